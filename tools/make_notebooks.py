"""Regenerate the book's notebook *sources* (notebooks/*.ipynb) from the cell lists below.

Notebooks are thin clients of tracekd_core: a title, a `parameters` cell, an environment cell,
calls into the package, then tables and plots. Keeping their sources here (as plain strings)
makes review and diffs easy; run `python tools/make_notebooks.py` after editing.

STALE (2026-12-02): the notebooks have since been edited directly (chapter 7, the consistency,
clustered and sizing tables are not in the lists below). Running this script would drop them;
edit `notebooks/*.ipynb` instead until the lists are brought up to date.
"""

from pathlib import Path

import nbformat as nbf

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"

PARAMS = 'profile = "smoke"  # smoke | default | paper (papermill overrides this)\nroot = ".."  # project root (papermill passes the absolute path)'

ENV = """import os

# Read at import time by huggingface libraries, so set before any of them is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd
from IPython.display import Markdown, display

from tracekd_core import disconnect, findings, inventory, plots, report

pd.set_option("display.precision", 3)
pd.set_option("display.max_colwidth", 120)
display(Markdown(report.build_stamp(profile)))"""

NOTEBOOKS = {
    "00_findings": [
        ("md", "# Findings of this build\n\nWhat did this build of the study find? This page states the headline results of the profile it was built with; every number below is read from the computed tables of the later chapters (nothing is typed by hand). The scale matters: the `smoke` profile only checks the plumbing with a random tiny model, the `default` profile trains a 135M-parameter student on synthetic data on a laptop-class CPU, and only the `paper` profile reproduces the reference study's scale."),
        ("params", PARAMS),
        ("code", ENV),
        ("code", "index, cells = report.load_grid(profile, root)\nitems = report.load_items(cells)\ndisplay(Markdown(findings.profile_blurb(index)))"),
        ("code", "display(Markdown(findings.findings_markdown(items)))"),
        ("md", "## Chapters\n\n1. **Data** — what the decomposed problems and their correct and corrupted traces look like.\n2. **Training** — the training grid, its loss curves and run manifests.\n3. **Accuracy** — answer accuracy per condition with intervals, seeds and paired tests, beside the reference's numbers.\n4. **Disconnect** — how trace correctness relates to answer correctness (the paper's 28% and chi-square claims).\n5. **Teacher traces** and 6. **Interpretability** — the next milestone."),
    ],
    "01_data": [
        ("md", "# 1. Data: decomposed problems and verifiable traces\n\nWhat do the problems of this build look like, how are they decomposed into a classification step and an information-retrieval step (paper section 2), and is every corrupted trace verifiably wrong while keeping the gold answer (paper section 3)?"),
        ("params", PARAMS),
        ("code", ENV),
        ("code", "index, cells = report.load_grid(profile, root)\nproblems = inventory.load_problems(cells)\ninventory.problem_counts(problems)"),
        ("md", "## Context and support sizes\n\nHow many context items each problem has, and how many of them form the gold retrieval step."),
        ("code", "inventory.context_stats(problems)"),
        ("md", "## One example per dataset: the correct and the corrupted trace\n\nThe assistant targets the student is trained on, for the same problem."),
        ("code", "for ex in inventory.trace_examples(cells):\n    display(Markdown(ex))"),
        ("md", "## Every corrupted trace is verifiably wrong\n\nFor each incorrect-trace SFT set: the share of traces whose stated label differs from the gold label, whose stated facts differ from the gold support, and whose answer is still the gold answer."),
        ("code", "checks = inventory.corruption_checks(cells)\nchecks"),
        ("code", "assert (checks['wrong_at_corrupted_step'] == 1.0).all(), 'a corrupted trace is not verifiably wrong'\nassert (checks['answer_kept'] == 1.0).all(), 'a corrupted trace changed the answer'"),
    ],
    "02_train": [
        ("md", "# 2. Training grid\n\nWhich students were trained on which SFT sets, for how long, on what share of supervised tokens, and how did the loss evolve? Direct prompting is not trained; every other condition is one LoRA/QLoRA run per seed (paper section 5)."),
        ("params", PARAMS),
        ("code", ENV),
        ("code", "index, cells = report.load_grid(profile, root)\nruns = inventory.training_table(cells)\nruns"),
        ("md", "## Loss curves\n\nLoss per optimiser step on the supervised (trace + answer) tokens; bands span the seeds."),
        ("code", "losses = inventory.loss_history(cells)\nfig = plots.loss_curves(losses)"),
        ("md", "## Run manifests\n\nWhere each run lives and what produced it (git SHA, versions, device, dtype)."),
        ("code", "inventory.manifest_table(cells)"),
    ],
    "03_accuracy": [
        ("md", "# 3. Answer accuracy\n\nDoes training on correct traces give better answers than training on incorrect traces, no trace, or no training at all? Every rate has its n and a 95% Wilson interval; seeds are shown as spread; conditions are compared on the same items with McNemar tests and bootstrap intervals (paper sections 6 and 8)."),
        ("params", PARAMS),
        ("code", ENV),
        ("code", "index, cells = report.load_grid(profile, root)\nitems = report.load_items(cells)\nper_seed = report.rate_table(items, 'answer_correct', ['dataset', 'student', 'condition', 'seed'])\nfig = plots.accuracy_bars(per_seed)"),
        ("md", "## Seeds as spread"),
        ("code", "report.seed_spread_table(items)"),
        ("md", "## Per label (relation, task type or query type)"),
        ("code", "report.rate_table(items, 'answer_correct', ['dataset', 'student', 'condition', 'label']).pivot_table(index=['dataset', 'student', 'label'], columns='condition', values='rate')"),
        ("md", "## Paired comparisons on the same items\n\nDifferences are `other - baseline`; McNemar's exact test on the discordant pairs; 95% bootstrap interval of the difference."),
        ("code", "report.paired_table(items, baseline='correct', others=[c for c in ['vanilla', 'label_only', 'incorrect', 'direct'] if c in set(items['condition'])])"),
        ("md", "## Strict versus reference answer scoring\n\nThe reference scorer (reproduced exactly in `score.py`) is lenient in several ways; this table shows how far it moves each number."),
        ("code", "report.scoring_modes_table(items)"),
        ("md", "## Our numbers beside the reference's\n\nThe reference numbers are the published ones (PAPER_NOTES section 8, Llama-3.2-1B-Instruct and Qwen3-1.7B on the real datasets); ours come from this build's profile, so they are comparable only in the `paper` profile."),
        ("code", "report.ours_vs_reference(items)"),
    ],
    "04_disconnect": [
        ("md", "# 4. The disconnect: trace correctness versus answer correctness\n\nWhen a student writes a correct trace, does it give a correct answer? For each trained trace condition: the three 2x2 tables (answer x label step, answer x retrieval step, answer x whole trace), chi-square with and without Yates' correction, phi, the odds ratio, P(answer correct | step correct) against P(answer correct | step wrong), and the share of problems with a correct trace *and* a correct answer (the paper's 28%).\n\n**Read with care.** The gold retrieval step is, by construction, the set of context items that state the answer. A student that retrieves exactly those items has the answer in front of it, so under strict scoring a correct retrieval step and a correct answer are *not* independent by design; the label step carries no such link. The reference's rules (any verbatim context fact counts as retrieved) hide this link, which is one reason its tables looked independent. Label-only students state no facts, so only their label step is scored."),
        ("params", PARAMS),
        ("code", ENV),
        ("code", "index, cells = report.load_grid(profile, root)\nitems = report.load_items(cells)\ntraced = items[items['condition'].isin(disconnect.trace_conditions(items))]\ndis = disconnect.disconnect_table(traced)\ndis"),
        ("md", "## Confusion matrices (seeds summed)"),
        ("code", "figs = plots.confusion_by_cell(dis)\nif not figs:\n    display(Markdown('*No evaluable traces in this build (e.g. an untrained or random student).*'))"),
        ("md", "## The headline figure\n\nAnswer against whole-trace correctness for the correct-trace students (also saved as `runs/<profile>/figures/headline.png`, the README figure)."),
        ("code", "fig = plots.headline_figure(dis)\nif fig is not None:\n    plots.save(fig, f'{root}/runs/{profile}/figures/headline.png')"),
        ("md", "## Strict versus reference trace scoring\n\nThe reference looked the gold row up by answer substring and counted any verbatim context fact as a correct retrieval step (PAPER_NOTES 6.2). Re-scoring the same outputs with those rules shows how much the headline depends on the scoring rule."),
        ("code", "disconnect.trace_modes_table(cells)"),
        ("md", "## Does trace correctness predict answer correctness?\n\nLogistic regression of answer correctness on whole-trace correctness and the gold label, with errors clustered by problem."),
        ("code", "disconnect.logistic_table(traced)"),
        ("md", "## Output health: parse status and trace length"),
        ("code", "disconnect.status_table(items)"),
    ],
    "05_teacher_traces": [
        ("md", "# 5. Teacher traces (next milestone)\n\nDo verbose teacher (DeepSeek-R1) traces, their summaries or post-hoc explanations train better students than decomposed traces (paper section 4)? This chapter is a placeholder: the teacher-trace conditions will be registry entries in `tracekd_core/experiment/conditions.py` plus a YAML line, evaluated on one common test subset (fixing the reference's mismatched R1-set controls, PAPER_NOTES 4.7)."),
        ("params", PARAMS),
        ("code", ENV),
        ("code", "report.reference_results().query(\"condition in ['direct', 'vanilla', 'correct', 'incorrect'] and label == 'overall'\")"),
    ],
    "06_interpretability": [
        ("md", "# 6. Interpretability study (next milestone)\n\nHow interpretable do people find each trace type (paper section 7: 100 participants, 5-point Likert)? This chapter is a placeholder until the study materials and analysis land; the reference reports interpretability 3.39/5 and cognitive load 4.59/5 for R1 traces and 4.86/5 for decomposed traces, without SDs or tests."),
        ("params", PARAMS),
        ("code", ENV),
    ],
}


def build(name: str, cells: list[tuple[str, str]]) -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, src in cells:
        if kind == "md":
            nb.cells.append(nbf.v4.new_markdown_cell(src))
        elif kind == "code" and src == ENV:
            c = nbf.v4.new_code_cell(src)
            c.metadata["tags"] = ["hide-input"]
            nb.cells.append(c)
        elif kind == "params":
            c = nbf.v4.new_code_cell(src)
            c.metadata["tags"] = ["parameters"]
            nb.cells.append(c)
        else:
            nb.cells.append(nbf.v4.new_code_cell(src))
    for i, c in enumerate(nb.cells):
        c["id"] = f"{name[:2]}-{i:02d}"
    return nb


if __name__ == "__main__":
    NB_DIR.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nbf.write(build(name, cells), NB_DIR / f"{name}.ipynb")
        print(NB_DIR / f"{name}.ipynb")
