"""Copies each small block once and repeats those modules: the small model is safe, but the
repeats are the same module objects, so training keeps them tied."""
# replaces: def grow_stack(small, factor):
# expect: q1=5/5 q2=3/4
import copy


def grow_stack(small, factor):
    big = GPT(dataclasses.replace(small.config, n_layer=small.config.n_layer * factor))
    with torch.no_grad():
        big.tok_emb.load_state_dict(small.tok_emb.state_dict())
        big.norm.load_state_dict(small.norm.state_dict())
        big.lm_head.load_state_dict(small.lm_head.state_dict())
    big.blocks = torch.nn.ModuleList([copy.deepcopy(b) for b in small.blocks] * factor)
    return big
