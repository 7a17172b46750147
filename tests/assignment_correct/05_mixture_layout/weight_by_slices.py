"""The grown weight filled block by block into a zero tensor."""
# replaces: def grown_weight(templates, coefs):
# expect: full


def grown_weight(templates, coefs):
    o, i = templates.shape[2], templates.shape[3]
    w = torch.zeros(2 * o, 2 * i, *templates.shape[4:])
    w[:o, :i], w[o:, i:] = block(templates, coefs, 0), block(templates, coefs, 1)
    w[:o, i:], w[o:, :i] = block(templates, coefs, 2), block(templates, coefs, 3)
    return w
