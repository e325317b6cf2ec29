"""A plain pandas RFM and BTYD summary, as an analyst would write it: the reference the floor is compared with.

Every order file is read whole with pandas.read_csv / read_json, the frames are concatenated and the
results come from groupby - no chunking, no DuckDB. The rules are the floor's (bench/floor.sql) for
these two results: the latest known version of each order, bad rows dropped, purchase days net of
refunds, RFM bins of seeds/rfm_score_bins.csv, the lifetimes summary.

Run it in its own process, so that its memory can be measured and a run that needs too much can be
stopped: `run_pandas_subprocess`, or `python -m bench.pandas_baseline LANDING AS_OF [--out F.parquet]`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent
SEEDS_DIR = REPO / "dbt_project" / "seeds"

# The exports' Chinese headers and code spellings (see docs/landing_contract_columns.md).
HEADERS = {
    "订单号": "order_id",
    "订单编号": "order_id",
    "会员号": "member_id",
    "会员编号": "member_id",
    "会员ID": "member_id",
    "下单时间": "order_time",
    "交易时间": "order_time",
    "渠道": "channel",
    "销售渠道": "channel",
    "订单金额": "gross_amount",
    "应付金额": "gross_amount",
    "优惠金额": "discount_amount",
    "订单状态": "status",
    "状态": "status",
    "退款金额": "refund_amount",
    "更新时间": "updated_at",
    "注册时间": "registered_at",
}
STATUSES = {
    "paid": "paid",
    "已支付": "paid",
    "completed": "paid",
    "已完成": "paid",
    "success": "paid",
    "refunded": "refunded",
    "已退款": "refunded",
    "refund": "refunded",
    "partially_refunded": "partially_refunded",
    "部分退款": "partially_refunded",
    "partial_refund": "partially_refunded",
    "cancelled": "cancelled",
    "已取消": "cancelled",
    "canceled": "cancelled",
}
CHANNELS = {
    "store": "store",
    "门店": "store",
    "线下": "store",
    "pos": "store",
    "offline": "store",
    "online": "online",
    "线上": "online",
    "电商": "online",
    "ecommerce": "online",
    "e-commerce": "online",
    "web": "online",
    "网店": "online",
    "app": "app",
    "客户端": "app",
    "mini_program": "mini_program",
    "小程序": "mini_program",
    "miniprogram": "mini_program",
    "mini-program": "mini_program",
    "wechat_mini_program": "mini_program",
}
TIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
    "%Y%m%d%H%M%S",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y年%m月%d日",
)
NULLS = ["", "null", "NULL", "None", "none", "NA", "na", "N/A", "n/a", "nan", "NaN", "-"]
_DATE_IN_PATH = re.compile(r"(?<!\d)(19\d{2}|2\d{3})[-_]?(0[1-9]|1[0-2])[-_]?(0[1-9]|[12]\d|3[01])(?!\d)")


def read_source(landing_dir: Path, source: str) -> pd.DataFrame:
    """Every file of one source, concatenated, all values as text, with landing date and file."""
    frames = []
    root = Path(landing_dir) / source
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.stat().st_size == 0:
            continue
        if path.suffix.lower() in (".csv", ".txt"):
            try:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            except UnicodeDecodeError:  # the POS export is GBK
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="gb18030")
        else:
            frame = pd.read_json(path, lines=True, dtype=False)  # keep text: no date guessing
        frame = frame.rename(columns=lambda c: HEADERS.get(c.strip(), c.strip().lower()))
        match = _DATE_IN_PATH.search(path.relative_to(root).as_posix())
        frame["landing_date"] = pd.Timestamp(f"{match[1]}-{match[2]}-{match[3]}")
        frame["source_file"] = path.relative_to(landing_dir).as_posix()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def text(series: pd.Series) -> pd.Series:
    """Trimmed text with the usual spellings of "nothing" as missing."""
    values = series.astype("string").str.strip()
    return values.mask(values.str.lower().isin([n.lower() for n in NULLS]))


def parse_time(series: pd.Series) -> pd.Series:
    values = text(series)
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    for fmt in TIME_FORMATS:
        todo = parsed.isna() & values.notna()
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(values[todo], format=fmt, errors="coerce")
    return parsed


def parse_amount(series: pd.Series) -> pd.Series:
    values = text(series).str.replace(r"[¥￥,\s]", "", regex=True)
    return pd.to_numeric(values, errors="coerce").round(2)


def known_members(landing_dir: Path, as_of: date) -> tuple[set, set]:
    """Member ids delivered by the as-of day (valid rows), and those known at its end."""
    members = read_source(landing_dir, "members")
    members = members[members["landing_date"] <= pd.Timestamp(as_of)]
    members["member_id"] = text(members["member_id"])
    members["registered_at"] = parse_time(members["registered_at"])
    members["updated_at"] = parse_time(members["updated_at"])
    members = members.dropna(subset=["member_id", "registered_at", "updated_at"])
    known_from = np.maximum(
        members["landing_date"], np.maximum(members["updated_at"], members["registered_at"]).dt.normalize()
    )
    end_of_day = pd.Timestamp(as_of)
    return set(members["member_id"]), set(members.loc[known_from <= end_of_day, "member_id"])


def rfm_and_btyd(landing_dir: Path, as_of: date) -> pd.DataFrame:
    as_of_ts = pd.Timestamp(as_of)
    delivered, known = known_members(landing_dir, as_of)

    orders = read_source(landing_dir, "orders")
    orders = orders[orders["landing_date"] <= as_of_ts].copy()
    for column in ("order_id", "member_id"):
        orders[column] = text(orders[column])
    orders["order_time"] = parse_time(orders["order_time"])
    orders["updated_at_parsed"] = parse_time(orders["updated_at"])
    orders["status"] = text(orders["status"]).str.lower().map(STATUSES)
    orders["channel"] = text(orders["channel"]).str.lower().map(CHANNELS)
    for column in ("gross_amount", "discount_amount", "refund_amount"):
        orders[column + "_parsed"] = parse_amount(orders[column])

    # Drop what the loader quarantines: missing / unparsable values, bad amounts, unknown members.
    bad = orders[["order_id", "member_id", "order_time", "status", "channel", "gross_amount_parsed"]].isna().any(axis=1)
    for column in ("discount_amount", "refund_amount"):
        bad |= text(orders[column]).notna() & orders[column + "_parsed"].isna()
    bad |= text(orders["updated_at"]).notna() & orders["updated_at_parsed"].isna()
    amounts = orders[["gross_amount_parsed", "discount_amount_parsed", "refund_amount_parsed"]]
    bad |= (amounts < 0).any(axis=1) | (amounts > _max_order_amount()).any(axis=1)
    gross, discount = orders["gross_amount_parsed"], orders["discount_amount_parsed"].fillna(0)
    refund = orders["refund_amount_parsed"].fillna(0)
    bad |= (discount > gross) | (refund > (gross - discount).round(2))  # amounts are floats: compare in cents
    bad |= ~orders["member_id"].isin(delivered)
    orders = orders[~bad].copy()

    # The latest version of each order known by the end of the as-of day.
    orders["status_at"] = orders["updated_at_parsed"].fillna(np.maximum(orders["order_time"], orders["landing_date"]))
    known_from = np.maximum(
        orders["landing_date"], np.maximum(orders["status_at"], orders["order_time"]).dt.normalize()
    )
    orders = orders[known_from <= as_of_ts]
    orders = orders.sort_values(["status_at", "landing_date", "source_file"]).drop_duplicates("order_id", keep="last")

    net = (orders["gross_amount_parsed"] - orders["discount_amount_parsed"].fillna(0)).round(2)
    refund = orders["refund_amount_parsed"].fillna(0)
    cancelled = orders["status"].isin(["refunded", "cancelled"])
    orders["net_spend"] = np.where(cancelled, 0.0, np.maximum(net - refund, 0.0).round(2))
    orders = orders[~cancelled & ((net == 0) | (refund < net))]
    orders = orders[orders["member_id"].isin(known)]
    orders["purchase_date"] = orders["order_time"].dt.normalize()

    days = orders.groupby(["member_id", "purchase_date"], as_index=False)["net_spend"].sum()
    days = days.sort_values(["member_id", "purchase_date"])
    window_start = as_of_ts - pd.Timedelta(days=_var("rfm_window_days"))
    days["in_window"] = days["purchase_date"] > window_start
    days["window_spend"] = days["net_spend"].where(days["in_window"], 0.0)
    days["first_day_spend"] = days.groupby("member_id")["net_spend"].transform("first")

    per_member = days.groupby("member_id").agg(
        first_purchase=("purchase_date", "min"),
        last_purchase=("purchase_date", "max"),
        purchase_days=("purchase_date", "count"),
        frequency=("in_window", "sum"),
        monetary=("window_spend", "sum"),
        total_spend=("net_spend", "sum"),
        first_day_spend=("first_day_spend", "first"),
    )
    result = pd.DataFrame(index=per_member.index)
    result["recency_days"] = (as_of_ts - per_member["last_purchase"]).dt.days
    result["frequency"] = per_member["frequency"].astype(int)
    result["monetary"] = per_member["monetary"].round(2)
    bins = pd.read_csv(SEEDS_DIR / "rfm_score_bins.csv")
    result["r_score"] = _score(result["recency_days"], bins[bins["dimension"] == "recency"])
    result["f_score"] = _score(result["frequency"], bins[bins["dimension"] == "frequency"])
    result["m_score"] = _score(result["monetary"], bins[bins["dimension"] == "monetary"])
    result.loc[result["frequency"] == 0, ["f_score", "m_score"]] = 1
    result["btyd_frequency"] = per_member["purchase_days"] - 1
    result["btyd_recency"] = (per_member["last_purchase"] - per_member["first_purchase"]).dt.days
    result["btyd_t"] = (as_of_ts - per_member["first_purchase"]).dt.days
    repeat = per_member["purchase_days"] - 1
    result["btyd_monetary_value"] = np.where(
        repeat > 0, (per_member["total_spend"] - per_member["first_day_spend"]) / repeat.clip(lower=1), 0.0
    )
    return result.reset_index()


def _score(values: pd.Series, bins: pd.DataFrame) -> pd.Series:
    """The highest score whose bin the value reaches, 1 if none."""
    score = pd.Series(1, index=values.index)
    for row in bins.sort_values("score").itertuples():
        reaches = pd.Series(True, index=values.index)
        if not pd.isna(row.min_value):
            reaches &= values >= row.min_value
        if not pd.isna(row.max_value):
            reaches &= values <= row.max_value
        score = score.where(~reaches, np.maximum(score, row.score))
    return score.astype(int)


def _max_order_amount() -> float:
    from retention.settings import Settings

    return Settings.from_env().max_order_amount


def _var(name: str):
    return yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())["vars"][name]


def run_pandas(landing_dir: Path, as_of: date, out: Path | None = None) -> dict:
    """RFM and the BTYD summary with pandas; wall seconds, rows, and the result written to `out` (parquet)."""
    started = time.perf_counter()
    result = rfm_and_btyd(Path(landing_dir), as_of)
    seconds = time.perf_counter() - started
    if out:
        result.to_parquet(out, index=False)
    return {"as_of": as_of.isoformat(), "wall_seconds": round(seconds, 3), "rows": len(result)}


# --------------------------------------------------------------------------------------------------
# Running it in a subprocess, measured and stopped at a memory or time limit
# --------------------------------------------------------------------------------------------------


def parse_size(text: str) -> int:
    """'8GB' / '512MB' / '1.5GiB' -> bytes."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)i?B?\s*", text.upper())
    if not match:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match[1]) * 1024 ** " KMGT".index(match[2] or " "))


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def run_pandas_subprocess(
    landing_dir: Path,
    as_of: date,
    memory_limit_bytes: int | None = None,
    timeout_seconds: float | None = None,
    out: Path | None = None,
) -> dict:
    """Run the baseline in a child process; kill it above `memory_limit_bytes` resident or after the timeout.

    status: ok, out_of_memory (killed at the limit, or by the system), timeout, or failed. Peak memory
    is the child's maximum resident set (from the kernel, after it ends); wall seconds include start-up.
    """
    command = [sys.executable, "-m", "bench.pandas_baseline", str(landing_dir), as_of.isoformat()]
    if out:
        command += ["--out", str(out)]
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, stdout=stdout, stderr=stderr, text=True)
        status = None
        while True:
            # wait4, not Popen.poll: it reaps the child with its peak resident memory.
            pid, exit_status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.perf_counter() - started
            if memory_limit_bytes and _rss_bytes(child.pid) > memory_limit_bytes:
                status = "out_of_memory"
            elif timeout_seconds and elapsed > timeout_seconds:
                status = "timeout"
            if status:
                child.send_signal(signal.SIGKILL)
                _, exit_status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(exit_status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read()
    if status is None:
        if child.returncode == 0:
            status = "ok"
        elif child.returncode == -signal.SIGKILL or "MemoryError" in errors:
            status = "out_of_memory"
        else:
            status = "failed"
    report = {
        "status": status,
        "wall_seconds": round(wall, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "memory_limit_mb": round(memory_limit_bytes / 2**20) if memory_limit_bytes else None,
        "timeout_seconds": timeout_seconds,
    }
    if status == "ok":
        report["inner"] = json.loads(output.strip().splitlines()[-1])
    elif status == "failed":
        report["error"] = errors.strip().splitlines()[-1] if errors.strip() else f"exit code {child.returncode}"
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pandas_baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument("landing", type=Path)
    parser.add_argument("as_of", type=date.fromisoformat)
    parser.add_argument("--out", type=Path, help="write the results here (parquet)")
    args = parser.parse_args(argv)
    print(json.dumps(run_pandas(args.landing, args.as_of, args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
