"""Trains the grown model with a higher learning rate after growth: the task says only the steps
differ between phases and runs."""
# replaces: # grown: SMALL for GROW_AT of the budget, grown, then TARGET for what is left
# expect: q1=3/4 q2=3/3
small_steps = int(GROW_AT * BUDGET // step_flops(SMALL))
grown_steps = int((BUDGET - small_steps * step_flops(SMALL)) // step_flops(TARGET))
torch.manual_seed(SEED)
trainer = Trainer(GPT(SMALL), data, train_config(small_steps), name="grown", progress=False)
trainer.fit()
trainer.grow(OPERATOR, dim=DIM, factor=FACTOR, config=dataclasses.replace(train_config(grown_steps), lr=6e-3))
trainer.fit()
grown = trainer.record
