#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A small random-weight GQA decoder whose KV cache lives in kvmem.

Two sequences (conversations) of a 2-layer model with 8 query heads over 2
KV heads: prefill, decode, swap one sequence out to the slower tier and back
mid-conversation, decode more; at every step the attention computed over the
kvmem views (torch tensors aliasing kvmem memory, no copy) must equal,
bit for bit, the attention over a private torch copy of the same K and V.

    PYTHONPATH=build/python /usr/bin/python3 examples/torch_gqa_decode.py

Needs the kvmem module (host backend); exits 0 when everything matched.
"""
import sys

import torch

import kvmem

LAYERS, QH, KVH, D, VOCAB = 2, 8, 2, 16, 64
G = QH // KVH


def attention(q, k, v):
    """q [QH, D] over k, v [T, KVH, D] (GQA: a group shares a KV head)."""
    k = k.repeat_interleave(G, dim=1)           # [T, QH, D]
    v = v.repeat_interleave(G, dim=1)
    s = torch.einsum("hd,thd->ht", q, k) / D ** 0.5
    return torch.einsum("ht,thd->hd", torch.softmax(s, dim=-1), v)


class Model:
    def __init__(self, seed=0):
        g = torch.Generator().manual_seed(seed)
        r = lambda *s: torch.randn(*s, generator=g) * 0.3   # noqa: E731
        self.emb = r(VOCAB, QH * D)
        self.wq = [r(QH * D, QH * D) for _ in range(LAYERS)]
        self.wk = [r(QH * D, KVH * D) for _ in range(LAYERS)]
        self.wv = [r(QH * D, KVH * D) for _ in range(LAYERS)]
        self.wo = [r(QH * D, QH * D) for _ in range(LAYERS)]
        self.out = r(QH * D, VOCAB)

    def step(self, seq, private, token, pos):
        """One token at position pos: its K, V written into kvmem (and the
        private copy), attention over both; returns (next token, match)."""
        seq.grow(pos + 1)
        x = self.emb[token]
        same = True
        for l in range(LAYERS):
            q = (x @ self.wq[l]).view(QH, D)
            kk = kvmem.as_torch(seq.k(l))         # [pos+1, KVH, D] views
            vv = kvmem.as_torch(seq.v(l))
            kk[pos] = (x @ self.wk[l]).view(KVH, D)
            vv[pos] = (x @ self.wv[l]).view(KVH, D)
            private[l][0][pos] = kk[pos]
            private[l][1][pos] = vv[pos]
            a = attention(q, kk, vv)
            b = attention(q, private[l][0][:pos + 1], private[l][1][:pos + 1])
            same = same and torch.equal(a, b)
            x = x + a.reshape(-1) @ self.wo[l]
        return int(torch.argmax(x @ self.out)), same


def main(argv=()):
    quiet = "--quiet" in argv
    geo = kvmem.Geometry(LAYERS, KVH, D, "f32", 256, "per_layer")
    model = Model()
    ok = True
    with kvmem.Context(backend="host") as ctx, \
            ctx.create(geo, user_data="a") as sa, \
            ctx.create(geo, user_data="b") as sb:
        convs = []
        for seq, prompt in ((sa, [1, 2, 3, 4, 5, 6]), (sb, [9, 8, 7])):
            priv = [(torch.zeros(256, KVH, D), torch.zeros(256, KVH, D))
                    for _ in range(LAYERS)]
            tok, pos = None, 0
            for t in prompt:                      # prefill
                tok, same = model.step(seq, priv, t, pos)
                ok &= same
                pos += 1
            convs.append([seq, priv, tok, pos])

        def decode(c, n):
            nonlocal ok
            for _ in range(n):
                c[2], same = model.step(c[0], c[1], c[2], c[3])
                ok &= same
                c[3] += 1

        for c in convs:
            decode(c, 8)
        # Conversation a pauses: swapped out, b goes on, a comes back.
        sa.swap_out()
        sa.wait()
        decode(convs[1], 4)
        sa.swap_in()
        sa.wait()
        comp = {c.user_data: c for c in ctx.completions()}
        ok &= sa.state == kvmem.SEQ_RESIDENT and comp["a"].status == 0
        for l in range(LAYERS):                   # nothing lost
            ok &= torch.equal(kvmem.as_torch(sa.k(l)),
                              convs[0][1][l][0][:sa.tokens])
        for c in convs:
            decode(c, 6)
        st = ctx.stats()
        if not quiet:
            for c in convs:
                print("sequence %s: %d tokens, last token %d"
                      % (c[0].user_data, c[0].tokens, c[2]))
            print("swaps out/in %d/%d, %d bytes copied; attention over "
                  "kvmem views %s the private copy's"
                  % (st.swaps_out, st.swaps_in, st.swap_bytes_copied,
                     "equals" if ok else "DIFFERS from"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
