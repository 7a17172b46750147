"""Lays the new blocks out as [[W0, W3], [W2, W1]]: W2 (member 0's templates) ends up in member 1's
rows."""
# replaces: def grown_weight(templates, coefs):
# expect: q1=2/2 q2=0/2 q3=2/2


def grown_weight(templates, coefs):
    w0, w1, w2, w3 = (block(templates, coefs, b) for b in range(4))
    return torch.cat([torch.cat([w0, w3], dim=1), torch.cat([w2, w1], dim=1)], dim=0)
