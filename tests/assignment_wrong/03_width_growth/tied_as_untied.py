"""Treats a tied head like an untied one: the one matrix ends up either tiled (the embedding's
need) or tiled and divided (the head's), never both."""
# replaces: def grow_wider(small, factor):
# expect: q1=5/5 q2=0/2


def grow_wider(small, factor):
    g, cfg = factor, small.config
    big = GPT(dataclasses.replace(cfg, n_head=cfg.n_head * g, n_embd=cfg.n_embd * g, mlp_hidden=cfg.mlp_hidden * g))
    new = {}
    for name, w in small.state_dict().items():
        if name == "tok_emb.weight":
            new[name] = w.repeat(1, g)
        elif name == "lm_head.weight":
            new[name] = w.repeat(1, g) / g
        elif w.ndim == 1:
            new[name] = w.repeat(g)
        else:
            new[name] = w.repeat(g, g) / g
    big.load_state_dict(new)
    return big
