"""Net2Wider written with torch.cat and explicit per-kind rules (the tied scale as a multiplier)."""
# replaces: def grow_wider(small, factor):
# expect: full


def grow_wider(small, factor):
    cfg = small.config
    s = factor if cfg.tie_weights else 1
    big = GPT(dataclasses.replace(cfg, n_head=factor * cfg.n_head, n_embd=factor * cfg.n_embd,
                                  mlp_hidden=factor * cfg.mlp_hidden, norm_eps=cfg.norm_eps / s / s))

    def tile(w, dims):
        for d in dims:
            w = torch.cat([w] * factor, dim=d)
        return w

    state = {}
    for key, w in small.state_dict().items():
        if key == "tok_emb.weight":
            state[key] = tile(w, [1]) / s
        elif key == "lm_head.weight":
            state[key] = tile(w, [1]) / factor
        elif w.dim() == 1:
            state[key] = tile(w, [0])
        elif key.endswith(("o_proj.weight", "down_proj.weight")):
            state[key] = tile(w, [0, 1]) / factor / s
        else:
            state[key] = tile(w, [0, 1]) / factor
    big.load_state_dict(state)
    return big
