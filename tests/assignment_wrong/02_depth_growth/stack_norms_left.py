"""Copies attention and MLP into every block but leaves every RMSNorm gain (the blocks' and the
final one) at its initial value: right only while the small model's gains are still 1."""
# replaces: def grow_stack(small, factor):
# expect: q1=5/5 q2=3/4


def grow_stack(small, factor):
    L = small.config.n_layer
    big = GPT(dataclasses.replace(small.config, n_layer=L * factor))
    with torch.no_grad():
        big.tok_emb.load_state_dict(small.tok_emb.state_dict())
        big.lm_head.load_state_dict(small.lm_head.state_dict())
        for i, block in enumerate(big.blocks):
            block.attn.load_state_dict(small.blocks[i % L].attn.state_dict())
            block.mlp.load_state_dict(small.blocks[i % L].mlp.state_dict())
    return big
