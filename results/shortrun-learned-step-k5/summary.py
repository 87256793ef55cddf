"""The table of docs/models.md ("The learned step at K = 5: remedies") from the runs' metrics."""
import json
import pathlib

HERE = pathlib.Path(__file__).parent
for path in sorted(HERE.glob("*-metrics.jsonl")):
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    train = [r for r in rows if r.get("split") == "train" and "step_size" in r]
    test = [r for r in rows if r.get("split") == "test"]
    line = {"run": path.name.removesuffix("-metrics.jsonl"),
            "steps": train[-1]["step"] if train else None,
            "mse_per_pixel_01_by_epoch": [round(r["mse_per_pixel_01"], 4) for r in test]}
    if train:
        peak = max(train, key=lambda r: r["step_size"])
        line |= {"step_size_first": train[0]["step_size"], "peak": peak["step_size"],
                 "peak_step": peak["step"], "last": train[-1]["step_size"],
                 "last_over_peak": round(train[-1]["step_size"] / peak["step_size"], 3)}
    print(json.dumps(line))
