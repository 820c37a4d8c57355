"""Chinese narratives (报案陈述) of police fraud reports, written from what the victim remembers.

The simulator knows the ground truth of every case; the report an officer types up is only the
victim's account of it. This module turns the remembered facts into the free text of such a
report, with enough variation in wording and order that the platform's extractors cannot rely
on one template. Every identifier the victim remembers (accounts, phones, URLs) is written
verbatim, because the platform later extracts them from this text and is scored against them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from opencc import OpenCC

from fanzha.model.enums import FraudType

__all__ = ["ReportFacts", "narrative"]


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What the victim tells the officer."""

    fraud_type: FraudType
    victim_name: str
    age: int
    first_contact: str
    loss_yuan: int
    payments: tuple[tuple[str, int, str], ...]
    phones: tuple[str, ...]
    urls: tuple[str, ...]
    apps: tuple[str, ...]
    pretext: str


@dataclass(frozen=True, slots=True)
class _Kind:
    """Per fraud type: default pretext and app wording, stories, and what happened after paying."""

    pretext: str
    app_default: str
    app_suffix: str  # "APP" after a quoted app name where Chinese reports say 下载“X”APP
    stories: tuple[str, ...]  # placeholders: {when} {pretext} {app} {kind}
    aftermaths: tuple[str, ...]


_ORDER_BRUSHING = _Kind(
    pretext="某电商平台",
    app_default="一款刷单APP",
    app_suffix="APP",
    stories=(
        "{when}，其被拉入一个兼职微信群，群内自称{pretext}工作人员的人招募“点赞做任务”，"
        "称每单可返佣金。其按要求下载{app}做了几单，均收到小额返利，随后对方称需完成"
        "“联单任务”并继续充值才能解冻本金和佣金。",
        "{when}，其收到一条招聘兼职的短信，添加对方QQ后被安排给{pretext}的商品刷单，"
        "前几单本金加佣金都按时返还，之后对方以“任务未完成”为由要求其追加垫付资金。",
        "其于{when}在网上看到“足不出户日赚数百元”的兼职广告，联系后对方自称{pretext}"
        "客服，让其在{app}上接单。做了几个小任务拿到十几元佣金后，对方要求其充值“解锁”"
        "高额奖励任务。",
        "{when}，有陌生人将其拉进一个“福利群”，群主自称是{pretext}的运营人员，发布关注、"
        "点赞任务，完成后返现。尝到甜头后，其被引导到{app}做“充值返利”任务，对方称须"
        "先充值才能提现。",
    ),
    aftermaths=(
        "之后对方又以“操作超时”为由要求继续充值，其本金始终无法取回，方知被骗。",
        "充值后账户资金无法提现，对方随即将其拉黑。",
        "其再要求提现时，对方称还需再做三单才能解冻，其这才意识到被骗。",
    ),
)

_FAKE_INVESTMENT = _Kind(
    pretext="投资导师",
    app_default="一款投资理财APP",
    app_suffix="APP",
    stories=(
        "{when}，其被拉入一个股票交流群，群内自称{pretext}的“老师”每天讲课荐股。在“老师”"
        "引导下，其下载{app}开户入金，起初账面显示盈利。",
        "其于{when}在短视频平台认识一名自称{pretext}的人，对方拉其进入“炒股学习群”，"
        "推荐其通过{app}投资“内部原始股”，称稳赚不赔。",
        "{when}，其添加了一名“理财顾问”的微信，对方自称{pretext}，称有稳赚不赔的期货"
        "项目，让其下载{app}跟着操作。",
        "{when}起，其加入一个投资群，群里不断有人晒收益截图，自称{pretext}的“老师”带单，"
        "其随后在{app}上注册账户并按指导充值。",
        "{when}，一名自称{pretext}的人通过短信邀请其加入“内部理财群”，称跟单可获高额"
        "回报，并发来{app}的下载方式。",
    ),
    aftermaths=(
        "其申请提现时被告知账户异常，需先缴纳保证金，此后一直无法提现。",
        "后该平台无法登录，“老师”也失去联系。",
        "其想取出资金时，客服以“流水不足”“需缴个人所得税”为由拒绝提现。",
    ),
)

_ROMANCE = _Kind(
    pretext="在国外经商的网友",
    app_default="一款投资APP",
    app_suffix="APP",
    stories=(
        "{when}，其在婚恋交友软件上结识一名自称{pretext}的人，双方每天聊天，以恋人相称。"
        "聊了几周后，对方称发现{app}有漏洞可以稳赚，引导其注册充值。",
        "其于{when}通过微信“附近的人”认识了自称{pretext}的对方，对方嘘寒问暖、谈婚"
        "论嫁。一个多月后，对方推荐其在{app}上一起“投资”，称是内部渠道。",
        "{when}，一名自称{pretext}的人在交友APP上添加其为好友，两人频繁聊天，对方承诺"
        "见面结婚。数周后对方称可以带其在{app}上玩竞猜赚钱，诱导其充值。",
        "{when}起，其与在网上认识的网恋对象（自称{pretext}）聊了三周，对方经常发生活照"
        "取得其信任，随后让其下载{app}“帮忙操作”投资。",
    ),
    aftermaths=(
        "之后其想提现时被要求先缴纳“税费”，对方随后失联。",
        "平台显示盈利却无法提现，对方也将其拉黑。",
        "其发现无法提现后再联系对方，对方已将其删除。",
    ),
)

_FAKE_LOAN = _Kind(
    pretext="某网贷平台",
    app_default="一款贷款APP",
    app_suffix="APP",
    stories=(
        "{when}，其因急需用钱在网上搜索贷款，下载了{app}并填写资料申请借款。自称{pretext}"
        "工作人员的人称其银行卡号填错导致资金被冻结，需缴纳“解冻金”。",
        "其于{when}接到自称{pretext}客服的电话，称可办理无抵押低息贷款。其按对方指引"
        "下载{app}申请借款，对方又以“刷流水”“交保证金”为由要求其先转账。",
        "{when}，其在{app}上申请了一笔贷款，页面显示审核通过但无法提现。自称{pretext}"
        "的客服称其征信不足，需先交纳手续费和保证金才能放款。",
        "{when}，其收到“贷款额度已批下来”的短信，联系后对方自称{pretext}的信贷经理，"
        "让其在{app}上提交身份证和银行卡信息，随后称需缴纳手续费才能放款。",
    ),
    aftermaths=(
        "转账后对方又以“流水不足”为由继续要钱，贷款始终未到账。",
        "钱交出后贷款一直没有下放，对方也联系不上了。",
        "随后对方称还需缴纳“会员费”，其这才意识到被骗。",
    ),
)

_FAKE_CUSTOMER_SERVICE = _Kind(
    pretext="某电商平台客服",
    app_default="一款屏幕共享软件",
    app_suffix="",
    stories=(
        "{when}，其接到自称{pretext}的电话，称其网购的商品有质量问题，可以办理双倍退款。"
        "对方发来链接让其填写银行卡信息，又以“操作需要验证”为由诱导其转账。",
        "其于{when}接到自称{pretext}的来电，称其快递在运输途中丢失，要给予理赔。对方让其"
        "下载{app}并开启屏幕共享，要求其按指示操作手机银行。",
        "{when}，有人自称{pretext}，说其误开通了“会员服务”，不取消将每月扣费，要求其"
        "通过{app}共享屏幕进行“关闭”操作。",
        "{when}，自称{pretext}的人联系其，称其购买的商品被检测出问题需召回退款，并以"
        "“退款到账需验证流水”为由，要求其在{app}中共享屏幕、按提示转账。",
    ),
    aftermaths=(
        "事后其发现并未收到任何退款。",
        "挂断电话后其查询余额，才发现被骗。",
        "之后对方失联，其意识到被骗。",
    ),
)

_IMPERSONATING_AUTHORITIES = _Kind(
    pretext="公安局民警",
    app_default="一款视频会议软件",
    app_suffix="",
    stories=(
        "{when}，其接到自称{pretext}的电话，称其名下银行卡涉嫌洗钱犯罪，要求其配合调查"
        "且不得告诉他人。通话持续数小时，对方让其下载{app}开启屏幕共享，要求其将资金"
        "转入“安全账户”接受核查。",
        "{when}，一名自称{pretext}的人来电称其身份信息被冒用，名下账户涉及一起洗钱案件，"
        "随后向其出示“逮捕令”，要求其将存款转到“安全账户”以证清白。",
        "其于{when}先接到“快递公司”电话称其包裹内有违禁品，随后电话被转接给自称"
        "{pretext}的人，对方称其卷入洗钱案，要求其通过{app}视频“做笔录”，并把钱转到"
        "“安全账户”。",
        "{when}，自称{pretext}的人打来电话，称其银行卡被用于非法资金转移，需进行“资金"
        "清查”。长时间通话中，对方让其在{app}上开启共享屏幕，并要求其将钱转至所谓"
        "“安全账户”。",
    ),
    aftermaths=(
        "事后其向家人说起此事，才知道被骗。",
        "之后对方电话无法接通，其意识到被骗。",
        "所谓“核查期限”过后资金并未退回，其才察觉上当。",
    ),
)

_IMPERSONATING_ACQUAINTANCE = _Kind(
    pretext="单位领导",
    app_default="微信",
    app_suffix="",
    stories=(
        "{when}，有人通过{app}添加其为好友，头像和昵称与其{pretext}一致，对方称正在开会"
        "不便接电话，需要紧急向合作方付一笔款，让其先帮忙转账。",
        "{when}，其收到一名自称{pretext}的{app}好友发来的消息，对方称有急事需要用钱，"
        "要求其立即转账，并承诺稍后归还。",
        "其于{when}被拉进一个工作群，群里冒充其{pretext}的人布置“紧急付款”任务，要求其"
        "马上向指定账户汇款。",
        "{when}，冒充其{pretext}的人在{app}上联系其，称亲戚住院急需手术费，自己不方便"
        "转账，让其代为垫付。",
    ),
    aftermaths=(
        "事后其打电话向本人核实，才发现对方是冒充的。",
        "后其当面询问，本人称从未发过此类消息。",
        "转账后对方又要求继续汇款，其起疑后核实，发现被骗。",
    ),
)

_GENERIC = _Kind(
    pretext="平台工作人员",
    app_default="一款APP",
    app_suffix="",
    stories=(
        "{when}，其遭遇一起{kind}诈骗：对方自称{pretext}，通过网络与其联系，以各种理由诱导其转账。",
        "{when}，有人自称{pretext}与其联系，在{app}上取得其信任后，要求其付款。",
        "{when}，自称{pretext}的人通过电话和网络联系其，经过一番说辞后让其按要求汇款。",
        "{when}起，其与自称{pretext}的人多次联系，对方编造各种理由，一步步要求其转账。",
    ),
    aftermaths=(
        "事后对方失联，其意识到被骗。",
        "之后其发现被骗，遂来报案。",
        "待其察觉时，对方已将其拉黑。",
    ),
)

_KINDS: dict[FraudType, _Kind] = {
    FraudType.ORDER_BRUSHING: _ORDER_BRUSHING,
    FraudType.FAKE_INVESTMENT: _FAKE_INVESTMENT,
    FraudType.ROMANCE: _ROMANCE,
    FraudType.FAKE_LOAN: _FAKE_LOAN,
    FraudType.FAKE_CUSTOMER_SERVICE: _FAKE_CUSTOMER_SERVICE,
    FraudType.IMPERSONATING_AUTHORITIES: _IMPERSONATING_AUTHORITIES,
    FraudType.IMPERSONATING_ACQUAINTANCE: _IMPERSONATING_ACQUAINTANCE,
}

#: Story templates per fraud type (the generic ones for types without their own).
_STORIES: dict[FraudType, tuple[str, ...]] = {
    ft: _KINDS.get(ft, _GENERIC).stories for ft in FraudType
}

_INTROS = (
    "报案人{name}（{age}岁）称：",
    "报案人{name}，{age}岁，来所报称：",
    "{name}（{age}岁）报称：",
    "事主{name}，现年{age}岁，陈述：",
    "报案人{name}（{age}岁）来我所报案，自述：",
)
_ORDINALS = "一二三四五六七八九十"


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _wan(yuan: int) -> str | None:
    """``yuan`` as an exact 万 figure with at most two decimals ("2.5万"), else None."""
    whole, rest = divmod(yuan, 10_000)
    if whole == 0 or rest % 100:
        return None
    decimals = f"{rest:04d}".rstrip("0")
    return f"{whole}.{decimals}万" if decimals else f"{whole}万"


def _amount(rng: np.random.Generator, yuan: int) -> str:
    """An amount in one of the styles officers write; the 万 form only where it is exact."""
    styles = [f"{yuan}元", f"人民币{yuan}元", f"{yuan}元整"]
    wan = _wan(yuan)
    if wan is not None:
        styles += [f"{wan}元", f"{wan}元"]  # twice: 万 is the usual style for large sums
    return _pick(rng, styles)


def _payee(rng: np.random.Generator, account: str) -> tuple[str, str]:
    """(who was paid, a note after the amount) for a remembered, partial or forgotten account."""
    if not account:
        note = _pick(rng, ("（对方账户记不清了）", "（收款账号已记不清）", "（具体账号记不清）"))
        return _pick(rng, ("对方指定的账户", "对方提供的账户", "对方账户")), note
    if account.startswith("尾号"):
        return _pick(rng, (f"{account}的账户", f"一个{account}的账户")), ""
    return _pick(rng, (f"账户{account}", f"收款账户{account}", f"对方指定的账户{account}")), ""


def _clause(rng: np.random.Generator, payment: tuple[str, int, str]) -> tuple[str, str]:
    """One payment as (its time, what was paid to whom)."""
    when, yuan, account = payment
    target, note = _payee(rng, account)
    verb = _pick(rng, ("转账", "汇款", "转入"))
    return when, f"向{target}{verb}{_amount(rng, yuan)}{note}"


def _ordinal(i: int) -> str:
    return f"第{_ORDINALS[i]}笔" if i < len(_ORDINALS) else f"第{i + 1}笔"


def _payments(rng: np.random.Generator, payments: Sequence[tuple[str, int, str]]) -> str:
    """All payments, as separate sentences, a numbered list or one chained sentence."""
    clauses = [_clause(rng, p) for p in payments]
    if len(clauses) == 1:
        when, what = clauses[0]
        lead = _pick(rng, ("其按对方要求于", "其于", "随后其在"))
        return f"{lead}{when}{what}。"
    style = int(rng.integers(3))
    if style == 0:
        return "".join(f"{when}，其{what}。" for when, what in clauses)
    if style == 1:
        items = "；".join(f"{_ordinal(i)}，{w}{what}" for i, (w, what) in enumerate(clauses))
        return f"其先后分{len(clauses)}笔转账：{items}。"
    chain = "，又于".join(f"{when}{what}" for when, what in clauses)
    return f"其先于{chain}。"


def _quoted(names: Sequence[str], suffix: str) -> str:
    return "、".join(f"“{n}”{suffix}" for n in names)


def _details(rng: np.random.Generator, facts: ReportFacts, apps: Sequence[str]) -> str:
    """The phones, URLs and (not yet named) apps the victim remembers."""
    parts: list[str] = []
    if facts.phones:
        phones = "、".join(facts.phones)
        parts.append(
            _pick(
                rng,
                (
                    f"对方使用{phones}与其联系。",
                    f"报案人记得对方的电话号码为{phones}。",
                    f"对方联系号码：{phones}。",
                ),
            )
        )
    if facts.urls:
        # URLs end before a full-width mark, so an extractor never swallows trailing text.
        urls = "、".join(facts.urls)
        parts.append(
            _pick(rng, (f"对方曾发来链接{urls}。", f"涉案网址为{urls}。", f"其曾打开网址{urls}。"))
        )
    if apps:
        names = _quoted(apps, "")
        parts.append(_pick(rng, (f"涉案APP有{names}。", f"其手机中安装过对方让下载的{names}。")))
    if not facts.phones and not facts.urls:
        parts.append(_pick(rng, ("对方的联系方式其已记不清。", "对方电话号码其未能记住。")))
    return "".join(parts)


def _story(rng: np.random.Generator, facts: ReportFacts, kind: _Kind) -> tuple[str, list[str]]:
    """The story up to the fraudster's ask, and the apps it did not name."""
    template = _pick(rng, kind.stories)
    apps = list(facts.apps)
    app = kind.app_default
    if apps and "{app}" in template:
        app = _quoted(apps[:1], kind.app_suffix)
        apps = apps[1:]
    ft = facts.fraud_type
    text = template.format(
        when=facts.first_contact,
        pretext=facts.pretext or kind.pretext,
        app=app,
        kind=f"{ft.label_zh}类" if ft is not FraudType.OTHER else "",
    )
    return text, apps


def _outcome(rng: np.random.Generator, facts: ReportFacts) -> str:
    """What happened after paying (or why nothing was paid), and the total loss."""
    if facts.loss_yuan <= 0 and facts.payments:
        return _pick(
            rng,
            (
                "上述款项经银行及时止付，未造成损失。",
                "经反诈中心紧急止付，资金已追回，未造成损失。",
            ),
        )
    if facts.loss_yuan <= 0:
        return _pick(
            rng,
            (
                "其察觉不对，未按对方要求转账，未造成损失。",
                "经家人提醒，其识破骗局，未造成损失。",
                "转账前其接到反诈中心的预警劝阻电话，未造成损失。",
                "民警及时上门劝阻，其未转账，未造成损失。",
            ),
        )
    loss = facts.loss_yuan
    wan = _wan(loss)
    return _pick(
        rng,
        (
            f"共计损失{loss}元。",
            f"以上共计损失人民币{loss}元。",
            f"经核算，报案人共计损失{loss}元。",
            f"共计损失{loss}元（合{wan}元）。" if wan else f"报案人共计损失{loss}元。",
        ),
    )


@functools.cache
def _to_traditional() -> Callable[[str], str]:
    # Building the converter loads the dictionaries, so it happens once and only when asked.
    convert: Callable[[str], str] = OpenCC("s2t").convert
    return convert


def narrative(facts: ReportFacts, rng: np.random.Generator, traditional: bool = False) -> str:
    """The officer's summary of the victim's statement, in Simplified or Traditional Chinese."""
    kind = _KINDS.get(facts.fraud_type, _GENERIC)
    intro = _pick(rng, _INTROS).format(name=facts.victim_name, age=facts.age)
    story, apps = _story(rng, facts, kind)
    paid = ""
    if facts.payments:
        paid = _payments(rng, facts.payments)
        if facts.loss_yuan > 0:
            paid += _pick(rng, kind.aftermaths)
    details = _details(rng, facts, apps)
    middle = paid + details if rng.random() < 0.5 else details + paid
    text = intro + story + middle + _outcome(rng, facts)
    return _to_traditional()(text) if traditional else text
