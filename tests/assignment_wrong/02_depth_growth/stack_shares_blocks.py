"""Puts the small model's own block modules into the grown model: the values are right, but the
copies share their tensors with each other and with the small model."""
# replaces: def grow_stack(small, factor):
# expect: q1=5/5 q2=2/4


def grow_stack(small, factor):
    L = small.config.n_layer
    big = GPT(dataclasses.replace(small.config, n_layer=L * factor))
    with torch.no_grad():
        big.tok_emb.load_state_dict(small.tok_emb.state_dict())
        big.norm.load_state_dict(small.norm.state_dict())
        big.lm_head.load_state_dict(small.lm_head.state_dict())
    big.blocks = torch.nn.ModuleList(small.blocks[i % L] for i in range(L * factor))
    return big
