"""G_stack as one state dict: every key of the grown model read from the small one."""
# replaces: def grow_stack(small, factor):
# expect: full


def grow_stack(small, factor):
    L = small.config.n_layer
    big = GPT(dataclasses.replace(small.config, n_layer=L * factor))
    old = small.state_dict()
    new = {}
    for key in big.state_dict():
        if key.startswith("blocks."):
            _, i, rest = key.split(".", 2)
            new[key] = old[f"blocks.{int(i) % L}.{rest}"].clone()
        else:
            new[key] = old[key].clone()
    big.load_state_dict(new)
    return big
