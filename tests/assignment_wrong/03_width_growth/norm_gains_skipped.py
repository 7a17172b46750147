"""Net2Wider that widens every matrix but leaves the RMSNorm gains at their initial 1: exact only
while the small model's gains are still 1."""
# replaces: def grow_wider(small, factor):
# expect: q1=2/5 q2=1/2


def grow_wider(small, factor):
    g, cfg = factor, small.config
    scale = 1 / g if cfg.tie_weights else 1.0
    big = GPT(dataclasses.replace(cfg, n_head=cfg.n_head * g, n_embd=cfg.n_embd * g,
                                  mlp_hidden=cfg.mlp_hidden * g, norm_eps=cfg.norm_eps * scale**2))
    new = big.state_dict()
    for name, w in small.state_dict().items():
        if name == "tok_emb.weight":
            new[name] = w.repeat(1, g) * scale
        elif name == "lm_head.weight":
            new[name] = w.repeat(1, g) / g
        elif w.ndim == 2:
            new[name] = w.repeat(g, g) / g
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                new[name] = new[name] * scale
    big.load_state_dict(new)
    return big
