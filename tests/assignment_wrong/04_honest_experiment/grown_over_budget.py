"""Gives the grown model the whole budget's steps after growth, forgetting that the small phase
already spent part of it: the grown run spends more than scratch."""
# replaces: # grown: SMALL for GROW_AT of the budget, grown, then TARGET for what is left
# expect: q1=3/4 q2=3/3
small_steps = int(GROW_AT * BUDGET // step_flops(SMALL))
grown_steps = int(BUDGET // step_flops(TARGET))
torch.manual_seed(SEED)
trainer = Trainer(GPT(SMALL), data, train_config(small_steps), name="grown", progress=False)
trainer.fit()
trainer.grow(OPERATOR, dim=DIM, factor=FACTOR, config=train_config(grown_steps))
trainer.fit()
grown = trainer.record
