"""Small tokenizers of every format SharpLens reads, with golden ids from independent implementations.

Writes tests/SharpLens.Tests/fixtures/tokenizers/<name>/ (tokenizer files + goldens.json):

* spm-llama:       SentencePiece BPE with byte fallback trained here (tokenizer.model, as Llama 2 / Mistral ship it),
                   plus tokenizer.json converted by this script the way transformers' LlamaConverter does (legacy:
                   Prepend + Replace normalizer, no pre-tokenizer), and tokenizer_config.json. Goldens: sentencepiece.
* spm-metaspace:   the same model converted the non-legacy way (Metaspace pre-tokenizer, prepend_scheme "first",
                   split false), as newer Llama / Mistral tokenizer.json files are. Goldens: sentencepiece.
* bpe-llama3:      byte-level BPE trained here, pre-tokenized as Llama 3 (Split with Llama 3's regex, then ByteLevel
                   without regex), ignore_merges, TemplateProcessing adding <|begin_of_text|>, special and
                   non-special added tokens.
* bpe-qwen2:       byte-level BPE, NFC normalizer, Split with Qwen2's regex, no BOS token (bos_token null).
* bpe-neox:        byte-level BPE with the ByteLevel pre-tokenizer's own GPT-2 regex, as GPT-NeoX / Pythia.
  Goldens for the three byte-level ones come from the byte-level BPE implementation below, written from Hugging Face
  tokenizers' documented semantics (code points, the `regex` module for \\p{L}); it shares no code with SharpLens.

Needs Debian's /usr/bin/python3 with python3-sentencepiece and python3-regex. Deterministic: re-running gives
byte-identical files.
"""
import json
import os
import unicodedata
from collections import Counter

import regex
import sentencepiece as spm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "SharpLens.Tests", "fixtures", "tokenizers")

TRAIN = """
We're helping our friend while they're at home, and they're grateful for it.
They are helping us while we are away. We are glad they are here, aren't we?
She's studying tonight because she's got an exam; he isn't, so he'll cook dinner.
The mechanism of attention lets a head copy a token it has seen before in the context.
In 2023 the model read 1,234,567 tokens at 3.14 tokens per microsecond (about 42% of peak).
def forward(self, x):\n    return self.proj(torch.relu(self.fc(x)))  # a two-layer MLP
Le modèle prédit la suite du texte ; les têtes d'attention copient des jetons.
Das Modell sagt das nächste Wort voraus, und die Köpfe kopieren frühere Wörter.
El modelo predice la siguiente palabra y las cabezas copian palabras anteriores.
Модель предсказывает следующее слово, а головы внимания копируют токены.
模型预测下一个词，注意力头复制之前见过的词。注意力头很有用。
言語モデルは次の単語を予測します。注意ヘッドは前の単語をコピーします。
Residual streams add every layer's output; layer norms rescale them before each block.
I'll say it again: they've done it, we'd do it, you'll see it, I'm sure of it.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 31415926 and dates like 2024-12-01.
Tabs\tand  double  spaces   and trailing spaces   \nand blank lines\n\n\nare whitespace.
""".strip().split("\n")
TRAIN = [line.replace("\\n", "\n").replace("\\t", "\t") for line in TRAIN] * 3

# Golden texts: unicode (accents, CJK, emoji with ZWJ, supplementary-plane letters and digits, combining marks, NFC/NFD
# pairs), whitespace runs, numbers, contractions in both cases, code, special tokens inside text, characters the
# training corpus never saw (byte fallback / byte-level bytes).
GOLDEN = [
    "We're helping our friend when they",
    "We are helping our friend when they",
    " are",
    "'re",
    "They'RE HERE, WE'LL SEE, I'M SURE",
    "Hello world",
    " Hello world",
    "  two leading spaces",
    "trailing spaces   ",
    "a  b   c    d",
    "line one\nline two\n\nline four\r\nwindows line",
    "\ttab\tseparated\tvalues\t",
    "12345678 is a number, 3.14159 too, and 1,000,000.",
    "2024-12-01T10:30:00Z",
    "café naïve résumé",
    "cafe\u0301 (decomposed é) vs café",
    "Ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ and ﬁ ligature",
    "模型预测下一个词。",
    "言語モデルは次の単語を予測します。",
    "Привет, мир! Модель предсказывает.",
    "مرحبا بالعالم",
    "emoji: 🤗 👍🏽 👨‍👩‍👧 🇫🇷",
    "math letters 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and mixed a𝔘b and digits 𝟙𝟚𝟛",
    "ancient 𐍈 and 𠀀 ideographs",
    "def f(x):\n    return x ** 2  # square",
    "<|begin_of_text|>Hello<|end_of_text|>",
    "text with <|endoftext|> inside",
    "a <custom> token and <custom>glued",
    "",
    " ",
    "\n",
    "x",
    "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
    "Ω≈ç√∫˜µ≤≥÷ ¡™£¢∞§¶•ªº–≠",
]


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1, sort_keys=False)
        f.write("\n")


# ---------------------------------------------------------------------------------------------------------------
# SentencePiece BPE with byte fallback (Llama 2 / Mistral).
# ---------------------------------------------------------------------------------------------------------------

def train_sentencepiece(folder):
    model_prefix = os.path.join(folder, "tokenizer")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAIN), model_prefix=model_prefix, model_type="bpe", vocab_size=760,
        byte_fallback=True, normalization_rule_name="identity", remove_extra_whitespaces=False, split_digits=True,
        allow_whitespace_only_pieces=True, character_coverage=0.995, add_dummy_prefix=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, minloglevel=2,
        train_extremely_large_corpus=False, seed_sentencepiece_size=100000, shuffle_input_sentence=False)
    os.remove(model_prefix + ".vocab")
    return spm.SentencePieceProcessor(model_file=model_prefix + ".model")


def llama_tokenizer_json(sp, legacy):
    """tokenizer.json as transformers' LlamaConverter writes it (with LlamaTokenizerFast's TemplateProcessing)."""
    n = sp.get_piece_size()
    pieces = [sp.id_to_piece(i) for i in range(n)]
    scores = [sp.get_score(i) for i in range(n)]
    vocab = {p: i for i, p in enumerate(pieces)}
    # SentencePieceExtractor: every split (l, r) of a piece whose halves are pieces, ordered by the merged piece's
    # score (highest first), then by the halves' ids.
    merges = []
    for piece, i in vocab.items():
        local = [(piece[:k], piece[k:]) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend((scores[i], l, r) for l, r in local)
    merges.sort(key=lambda m: -m[0])   # stable: ties keep their order
    specials = [(0, "<unk>"), (1, "<s>"), (2, "</s>")]
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, c in specials],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
        if legacy else None,
        "pre_tokenizer": None if legacy else {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}]
            + ([{"type": "Strip", "content": " ", "start": 1, "stop": 0}] if legacy else [])},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab,
                  # The legacy file uses the "a b" string form, the other the ["a", "b"] array form.
                  "merges": [f"{l} {r}" for _, l, r in merges] if legacy else [[l, r] for _, l, r in merges]},
    }
    if not legacy:
        # A Metaspace decoder instead of Replace + Strip, as non-legacy files have.
        tokenizer["decoder"] = {"type": "Sequence", "decoders": [
            {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False},
            {"type": "ByteFallback"}, {"type": "Fuse"}]}
    return tokenizer


def llama_config(legacy):
    return {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
            "unk_token": {"__type": "AddedToken", "content": "<unk>", "lstrip": False, "normalized": False,
                          "rstrip": False, "single_word": False},
            "pad_token": None, "legacy": legacy, "model_max_length": 4096, "tokenizer_class": "LlamaTokenizer"}


def make_sentencepiece():
    folder = os.path.join(ROOT, "spm-llama")
    os.makedirs(folder, exist_ok=True)
    sp = train_sentencepiece(folder)
    goldens = [{"text": t, "ids": sp.encode(t, out_type=int), "decoded": sp.decode(sp.encode(t, out_type=int))}
               for t in GOLDEN]
    write_json(os.path.join(folder, "tokenizer.json"), llama_tokenizer_json(sp, legacy=True))
    write_json(os.path.join(folder, "tokenizer_config.json"), llama_config(legacy=True))
    write_json(os.path.join(folder, "goldens.json"), {"source": "sentencepiece " + spm.__version__, "bos": 1, "goldens": goldens})
    meta = os.path.join(ROOT, "spm-metaspace")
    os.makedirs(meta, exist_ok=True)
    write_json(os.path.join(meta, "tokenizer.json"), llama_tokenizer_json(sp, legacy=False))
    write_json(os.path.join(meta, "tokenizer_config.json"), llama_config(legacy=False))
    # Hugging Face's Metaspace (prepend_scheme "first") prepends "▁" only when the text does not start with a space,
    # where sentencepiece always adds its dummy prefix: a text starting with " " is sentencepiece's encoding of the
    # text without that space (a lone " " is the piece "▁"). The ids are still sentencepiece's own.
    def metaspace_ids(t):
        if not t.startswith(" "):
            return sp.encode(t, out_type=int)
        return sp.encode(t[1:], out_type=int) if len(t) > 1 else [sp.piece_to_id("▁")]
    meta_goldens = [{"text": t, "ids": metaspace_ids(t), "decoded": sp.decode(metaspace_ids(t))} for t in GOLDEN]
    write_json(os.path.join(meta, "goldens.json"), {"source": "sentencepiece " + spm.__version__ + ", Metaspace prepend_scheme first",
                                                   "bos": 1, "goldens": meta_goldens})


# ---------------------------------------------------------------------------------------------------------------
# Byte-level BPE: an independent implementation of Hugging Face tokenizers' pipeline for these files.
# ---------------------------------------------------------------------------------------------------------------

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_ENCODER = bytes_to_unicode()
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def regex_isolate(pattern, text):
    """Split with behavior Isolated: every match and every gap between matches is a piece (empty ones dropped)."""
    pieces, prev = [], 0
    for m in regex.finditer(pattern, text):
        if m.start() > prev:
            pieces.append(text[prev:m.start()])
        if m.end() > m.start():
            pieces.append(m.group())
        prev = m.end()
    if prev < len(text):
        pieces.append(text[prev:])
    return pieces


class ByteLevelBpe:
    """A byte-level BPE tokenizer: added tokens matched first (leftmost-longest), then normalizer, regex split,
    byte-to-unicode mapping, BPE by merge rank (ties: leftmost), optional ignore_merges, a BOS template."""

    def __init__(self, pattern, nfc, ignore_merges, bos=None):
        self.pattern, self.nfc, self.ignore_merges, self.bos = pattern, nfc, ignore_merges, bos
        self.vocab, self.ranks, self.added = {}, {}, {}

    def pre_tokenize(self, text):
        if self.nfc:
            text = unicodedata.normalize("NFC", text)
        return ["".join(BYTE_ENCODER[b] for b in piece.encode("utf-8")) for piece in regex_isolate(self.pattern, text)]

    def train(self, lines, merges):
        for b in range(256):
            self.vocab[BYTE_ENCODER[b]] = len(self.vocab)
        words = Counter(p for line in lines for p in self.pre_tokenize(line))
        split = {w: list(w) for w in words}
        for _ in range(merges):
            pairs = Counter()
            for w, n in words.items():
                s = split[w]
                for a, b in zip(s, s[1:]):
                    pairs[(a, b)] += n
            if not pairs:
                break
            best = min(pairs, key=lambda p: (-pairs[p], p))   # most frequent, ties by the pair's text
            self.ranks[best] = len(self.ranks)
            self.vocab.setdefault(best[0] + best[1], len(self.vocab))
            for w in words:
                s, out, i = split[w], [], 0
                while i < len(s):
                    if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                        out.append(s[i] + s[i + 1])
                        i += 2
                    else:
                        out.append(s[i])
                        i += 1
                split[w] = out

    def bpe(self, word):
        if self.ignore_merges and word in self.vocab:
            return [self.vocab[word]]
        parts = list(word)
        while len(parts) > 1:
            ranked = [(self.ranks.get((a, b), None), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            ranked = [(r, i) for r, i in ranked if r is not None]
            if not ranked:
                break
            _, i = min(ranked)
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        return [self.vocab[p] for p in parts]

    def encode(self, text):
        ids = [self.added[self.bos]] if self.bos else []
        for piece, is_added in self.split_added(text):
            if is_added:
                ids.append(self.added[piece])
            else:
                for word in self.pre_tokenize(piece):
                    ids.extend(self.bpe(word))
        return ids

    def split_added(self, text):
        out, start, i = [], 0, 0
        tokens = sorted(self.added, key=len, reverse=True)
        while i < len(text):
            hit = next((t for t in tokens if text.startswith(t, i)), None)
            if hit is None:
                i += 1
                continue
            if i > start:
                out.append((text[start:i], False))
            out.append((hit, True))
            i += len(hit)
            start = i
        if start < len(text):
            out.append((text[start:], False))
        return out

    def decode_one(self, token_id):
        inverse = {v: k for k, v in {**self.vocab, **self.added}.items()}
        token = inverse[token_id]
        byte_decoder = {c: b for b, c in BYTE_ENCODER.items()}
        if all(c in byte_decoder for c in token):
            return bytes(byte_decoder[c] for c in token).decode("utf-8", errors="replace")
        return token


def byte_level_file(tok, pre_tokenizer, normalizer, post_processor, added, ignore_merges, array_merges):
    merges = sorted(tok.ranks, key=tok.ranks.get)
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": not special, "special": special} for c, i, special in added],
        "normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "post_processor": post_processor,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": ignore_merges,
                  "vocab": tok.vocab,
                  "merges": [[a, b] for a, b in merges] if array_merges else [f"{a} {b}" for a, b in merges]},
    }


def byte_level_post_processor():
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}


def make_byte_level(name, pattern, nfc, ignore_merges, template_bos, specials, plain, pre_tokenizer, post_processor, config,
                    array_merges):
    """post_processor: a function of the added tokens' ids. The goldens are the ids without the template's BOS; their
    "bos" is the id of the config's bos_token (its eos_token when bos_token is null, as TransformerLens does)."""
    tok = ByteLevelBpe(pattern, nfc, ignore_merges)
    tok.train(TRAIN, merges=360)
    added = []
    for content, special in [(s, True) for s in specials] + [(p, False) for p in plain]:
        tok.added[content] = len(tok.vocab) + len(tok.added)
        added.append((content, tok.added[content], special))
    post_processor = post_processor(tok.added)
    normalizer = {"type": "NFC"} if nfc else None
    file = byte_level_file(tok, pre_tokenizer, normalizer, post_processor, added, ignore_merges, array_merges)
    folder = os.path.join(ROOT, name)
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "tokenizer.json"), file)
    write_json(os.path.join(folder, "tokenizer_config.json"), config)
    goldens = []
    for text in GOLDEN:
        ids = tok.encode(text)
        goldens.append({"text": text, "ids": ids, "str_tokens": [tok.decode_one(i) for i in ids],
                        "decoded": unicodedata.normalize("NFC", text) if nfc else text,
                        "changed_by_nfc": nfc and unicodedata.normalize("NFC", text) != text})
    bos_id = tok.added[config["bos_token"] or config["eos_token"]]
    tok.bos = template_bos
    assert tok.encode("x")[:1] == ([bos_id] if template_bos else tok.encode("x")[:1])
    write_json(os.path.join(folder, "goldens.json"), {"source": "make_tokenizer_fixtures.py byte-level BPE", "bos": bos_id, "goldens": goldens})


def split_then_byte_level(pattern):
    return {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}


def main():
    make_sentencepiece()
    llama3_template = lambda added: {
        "type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [added["<|begin_of_text|>"]], "tokens": ["<|begin_of_text|>"]}}}]}
    make_byte_level(
        "bpe-llama3", LLAMA3_PATTERN, nfc=False, ignore_merges=True, template_bos="<|begin_of_text|>",
        specials=["<|begin_of_text|>", "<|end_of_text|>"], plain=["<custom>"],
        pre_tokenizer=split_then_byte_level(LLAMA3_PATTERN), post_processor=llama3_template,
        config={"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>", "model_max_length": 131072,
                "tokenizer_class": "PreTrainedTokenizerFast"}, array_merges=False)
    make_byte_level(
        "bpe-qwen2", QWEN2_PATTERN, nfc=True, ignore_merges=False, template_bos=None,
        specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], plain=[],
        pre_tokenizer=split_then_byte_level(QWEN2_PATTERN), post_processor=lambda added: byte_level_post_processor(),
        config={"add_prefix_space": False, "bos_token": None, "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                "model_max_length": 32768, "tokenizer_class": "Qwen2Tokenizer", "errors": "replace"}, array_merges=True)
    make_byte_level(
        "bpe-neox", GPT2_PATTERN, nfc=False, ignore_merges=False, template_bos=None,
        specials=["<|endoftext|>", "<|padding|>"], plain=[],
        pre_tokenizer={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        post_processor=lambda added: byte_level_post_processor(),
        config={"add_prefix_space": False, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                "unk_token": "<|endoftext|>", "tokenizer_class": "GPTNeoXTokenizer"}, array_merges=False)


if __name__ == "__main__":
    main()
