"""Trains the small model alone only for the small phase's share of the budget: the baseline that
growth has to beat is starved."""
# replaces: # small alone: SMALL, the whole budget
# expect: q1=3/4 q2=3/3
torch.manual_seed(SEED)
small_alone = train(GPT(SMALL), data, train_config(int(GROW_AT * BUDGET // step_flops(SMALL))),
                    name="small alone", progress=False)
