"""Repeats each block in place ([0, 0, 1, 1]: the paper's interpolation ablation) instead of
stacking the whole model ([0, 1, 0, 1])."""
# replaces: def grow_stack(small, factor):
# expect: q1=5/5 q2=2/4


def grow_stack(small, factor):
    L = small.config.n_layer
    big = GPT(dataclasses.replace(small.config, n_layer=L * factor))
    with torch.no_grad():
        big.tok_emb.load_state_dict(small.tok_emb.state_dict())
        big.norm.load_state_dict(small.norm.state_dict())
        big.lm_head.load_state_dict(small.lm_head.state_dict())
        for i, block in enumerate(big.blocks):
            block.load_state_dict(small.blocks[i // factor].state_dict())
    return big
