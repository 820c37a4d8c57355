"""Labels in Chinese (zh-CN, the default) and English, chosen by ``FANZHA_LANG``."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # key: (zh-CN, en)
    "accepted": ("入库", "accepted"),
    "rejected": ("拒收(死信)", "rejected (dead letters)"),
    "duplicates": ("重复", "duplicates"),
    "files": ("文件", "files"),
    "seconds": ("耗时(秒)", "seconds"),
    "file": ("文件", "file"),
    "format": ("格式", "format"),
    "error": ("错误", "error"),
    "ingesting": ("正在导入", "Ingesting"),
    "rows": ("条", "rows"),
    "rolled_back": (
        "严格模式:有记录被拒收,本批全部回滚,未入库。",
        "strict mode: records were rejected, so nothing landed (rolled back).",
    ),
    "some_rejected": (
        "部分记录被拒收,已写入死信队列:fanzha deadletters list",
        "some records were rejected and kept as dead letters: fanzha deadletters list",
    ),
    "id": ("编号", "id"),
    "status": ("状态", "status"),
    "source": ("来源", "source"),
    "location": ("位置", "location"),
    "type": ("类型", "type"),
    "field": ("字段", "field"),
    "reason": ("原因", "reason"),
    "attempts": ("重试次数", "attempts"),
    "created": ("时间", "created"),
    "no_dead_letters": ("没有死信。", "no dead letters."),
    "dead_letters": ("死信队列", "Dead letters"),
    "ingest_summary": ("导入结果", "Ingestion summary"),
    "by_type": ("按类型", "by type"),
    "retry_done": (
        "已重试 {n} 条:成功 {ok} 条,仍失败 {bad} 条",
        "retried {n}: {ok} landed, {bad} still failing",
    ),
    "demo_title": ("反诈平台演示", "Fanzha demo"),
    "demo_written": ("演示数据已生成:{path}", "demo data written to {path}"),
    "events_in_lake": ("事件库中的事件", "Events in the lake"),
    "count": ("数量", "count"),
    "runs": ("导入记录", "Ingestion runs"),
    # statuses of dead letters and ingestion runs
    "status.open": ("待处理", "open"),
    "status.retried": ("已重试", "retried"),
    "status.discarded": ("已丢弃", "discarded"),
    "status.running": ("进行中", "running"),
    "status.done": ("完成", "done"),
    "status.failed": ("失败", "failed"),
    "status.rolled_back": ("已回滚", "rolled back"),
}


def status_label(status: str, lang: str = "zh-CN") -> str:
    """A dead letter's or an ingestion run's status in words (the raw value if unknown)."""
    key = f"status.{status}"
    return t(key, lang) if key in MESSAGES else status


def t(key: str, lang: str = "zh-CN", **kwargs: object) -> str:
    """The label for ``key`` in ``lang`` (zh-CN unless the language starts with 'en')."""
    return pick(MESSAGES, key, lang, **kwargs)


def pick(
    labels: dict[str, tuple[str, str]], key: str, lang: str = "zh-CN", **kwargs: object
) -> str:
    """The label for ``key`` from a command's own (zh-CN, en) table, formatted with kwargs."""
    zh, en = labels[key]
    text = en if lang.lower().startswith("en") else zh
    return text.format(**kwargs) if kwargs else text
