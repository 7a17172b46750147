"""G_zero that copies attention and MLP but leaves every RMSNorm gain at its initial value."""
# replaces: def grow_zero(small, factor):
# expect: q1=3/5 q2=4/4


def grow_zero(small, factor):
    L = small.config.n_layer
    big = GPT(dataclasses.replace(small.config, n_layer=L * factor))
    with torch.no_grad():
        big.tok_emb.load_state_dict(small.tok_emb.state_dict())
        big.lm_head.load_state_dict(small.lm_head.state_dict())
        for j in range(L):
            big.blocks[j * factor].attn.load_state_dict(small.blocks[j].attn.state_dict())
            big.blocks[j * factor].mlp.load_state_dict(small.blocks[j].mlp.state_dict())
            for k in range(1, factor):
                big.blocks[j * factor + k].attn.o_proj.weight.zero_()
                big.blocks[j * factor + k].mlp.down_proj.weight.zero_()
    return big
