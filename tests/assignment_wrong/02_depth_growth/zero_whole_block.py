"""Zeroes every weight of the new blocks: the function is preserved, but no gradient ever reaches
them, so the grown model cannot train its new blocks."""
# replaces: def grow_zero(small, factor):
# expect: q1=3/5 q2=4/4


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
                for name, p in big.blocks[j * factor + k].named_parameters():
                    if name.endswith("proj.weight"):
                        p.zero_()
    return big
