"""Zeroes the projections that start each sublayer (q_proj, gate_proj) instead of those that write
into the residual stream (o_proj, down_proj): the new blocks still add something."""
# replaces: def grow_zero(small, factor):
# expect: q1=2/5 q2=4/4


def grow_zero(small, factor):
    L = small.config.n_layer
    big = GPT(dataclasses.replace(small.config, n_layer=L * factor))
    with torch.no_grad():
        big.tok_emb.load_state_dict(small.tok_emb.state_dict())
        big.norm.load_state_dict(small.norm.state_dict())
        big.lm_head.load_state_dict(small.lm_head.state_dict())
        for j in range(L):
            big.blocks[j * factor].load_state_dict(small.blocks[j].state_dict())
            for k in range(1, factor):
                new = big.blocks[j * factor + k]
                new.attn.q_proj.weight.zero_()
                new.mlp.gate_proj.weight.zero_()
    return big
