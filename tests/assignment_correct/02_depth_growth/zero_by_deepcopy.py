"""G_zero built from deep copies of the small blocks and fresh blocks of a new GPT."""
# replaces: def grow_zero(small, factor):
# expect: full
import copy


def grow_zero(small, factor):
    cfg = dataclasses.replace(small.config, n_layer=small.config.n_layer * factor)
    big = GPT(cfg)
    fresh = list(big.blocks)
    blocks = []
    for j, block in enumerate(small.blocks):
        blocks.append(copy.deepcopy(block))
        for k in range(1, factor):
            new = fresh[j * factor + k]
            torch.nn.init.zeros_(new.attn.o_proj.weight)
            torch.nn.init.zeros_(new.mlp.down_proj.weight)
            blocks.append(new)
    big.blocks = torch.nn.ModuleList(blocks)
    state = {k: v for k, v in small.state_dict().items() if not k.startswith("blocks.")}
    big.load_state_dict({**big.state_dict(), **{k: v.clone() for k, v in state.items()}})
    return big
