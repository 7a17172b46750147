"""Trains the small model for its share of the budget with train(), then hands it to the Trainer
that grows it: the ledger never sees that phase, and the run really spends about 125% of the budget."""
# replaces: # grown: SMALL for GROW_AT of the budget, grown, then TARGET for what is left
# expect: q1=3/4 q2=3/3
small_steps = int(GROW_AT * BUDGET // step_flops(SMALL))
torch.manual_seed(SEED)
small_model = GPT(SMALL)
train(small_model, data, train_config(small_steps), name="warm-up", progress=False)
trainer = Trainer(small_model, data, train_config(1), name="grown", progress=False)
trainer.fit()
grown_steps = int((BUDGET - step_flops(SMALL)) // step_flops(TARGET))
trainer.grow(OPERATOR, dim=DIM, factor=FACTOR, config=train_config(grown_steps))
trainer.fit()
grown = trainer.record
