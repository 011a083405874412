"""The demo portal's dated articles: every column's items, generated deterministically from `as_of` and `scale`.

Nothing depends on the wall clock: all dates derive from `as_of`, and every random draw comes from a generator
seeded by a fixed string, so two builds with the same arguments are identical. `SiteContent` holds the articles of
every column and platform section for one simulated month (`month_variant` months before `as_of`): an item dated
after that month's snapshot is not yet published. The planted defects (`defects.py`) alter a few of these items
after they are made.
"""

from __future__ import annotations

import datetime as dt
import html
import random

from sitewatch.demo.site import (
    COL,
    COLUMNS,
    GK_LEAF_CATEGORY,
    GKMLPT,
    HANWEB_UNIT,
    PREFIX,
    Item,
    shift_months,
)

# ---------------------------------------------------------------------------------------------------------
# vocabulary of titles and bodies

COMMUNITIES = ["沙朗", "后山", "隆平", "长洲", "烟洲", "翠景", "彩虹", "富华", "金叶", "岐港"]
DYN_TEMPLATES = [
    "西区召开{topic}工作部署会",
    "西区{c}社区开展{act}活动",
    "西区办事处主要领导带队检查{chk}工作",
    "西区举办{event}",
    "西区{c}社区“{act}”志愿服务活动温暖开展",
    "西区推进{topic}工作取得新成效",
    "市领导到西区调研{topic}工作",
    "西区召开{topic}专题会议",
]
TOPICS = ["安全生产", "城市更新", "森林防火", "三防", "人居环境整治", "文明城市创建", "基层治理", "营商环境优化",
          "消防安全", "燃气安全", "食品安全", "防溺水", "老旧小区改造", "垃圾分类", "禁毒宣传", "信访维稳"]
ACTS = ["邻里节", "政策宣讲", "长者关爱", "垃圾分类宣传", "反诈宣传", "义诊", "亲子阅读", "消防演练", "敬老慰问",
        "法律咨询"]
CHECKS = ["节前安全生产", "燃气安全", "消防安全", "在建工地", "三防备汛", "食品安全", "校园周边安全"]
EVENTS = ["2026年“百千万工程”推进会", "社区运动会", "民营企业座谈会", "“粤菜师傅”技能培训", "青年人才招聘会",
          "长者饭堂开放日", "非遗文化进社区展演", "“香山书香”读书节"]
NOTICE_TEMPLATES = [
    "关于{topic}工作的通知",
    "关于开展{year}年度{topic}专项检查的公告",
    "西区{year}年{topic}资金拟安排项目公示",
    "关于西区{c}社区{road}道路施工临时交通管制的通告",
    "关于征集{year}年西区民生实事项目的公告",
    "关于做好{year}年{topic}有关工作的通知",
]
ROADS = ["彩虹大道", "富华道", "沙朗路", "翠景北路", "隆平路", "升华路", "长洲北路"]
PUBLIC_TEMPLATES = [
    "西区{c}社区{year}年低保对象名单公示",
    "西区{year}年城乡居民临时救助情况公示",
    "西区{c}社区集体资产处置结果公示",
    "西区{year}年度先进个人拟表彰名单公示",
]
OTHER_FILE_TEMPLATES = [
    "西区办事处关于{year}年{topic}工作安排的函",
    "西区办事处关于印发{topic}工作要点的通知",
    "西区办事处关于做好{topic}有关工作的函",
]
FILE_TEMPLATES = [
    "中山市西区办事处关于印发《西区{year}年{topic}工作方案》的通知",
    "中山市西区办事处关于成立西区{topic}工作领导小组的通知",
    "中山市西区办事处关于调整{topic}工作机制的通知",
]
HR_TEMPLATES = [
    "中山市西区办事处{year}年公开招聘{n}名{job}公告",
    "中山市西区办事处{year}年公开招聘{job}拟聘用人员公示",
    "西区办事处干部任前公示",
    "中山市西区办事处{year}年公开招聘{job}面试成绩及体检名单",
]
JOBS = ["社区工作者", "网格员", "综合执法辅助人员", "专职消防员", "财政辅助人员", "退役军人服务站工作人员"]
STAT_TEMPLATES = [
    "西区{year}年{m}月主要经济指标",
    "西区{year}年1—{m}月规模以上工业增加值情况",
    "西区{year}年{m}月社会消费品零售总额情况",
]
PLAN_TITLES = [
    "中山市西区办事处{year}年工作计划",
    "西区“十四五”规划中期评估报告",
    "中山市西区办事处{year}年工作总结",
    "西区{year}年重点项目建设计划",
]
TOPIC_TEMPLATES = [
    "西区创建全国文明城市{n}问",
    "学习贯彻党的二十届四中全会精神专题（{n}）",
    "西区“百千万工程”专题报道（{n}）",
    "扫黑除恶常态化专题宣传（{n}）",
]
SERVICE_TEMPLATES = [
    "西区{svc}服务须知",
    "西区{svc}常见问题解答",
    "西区{svc}办理地点及时间",
]
SERVICES = ["居住证办理", "老年人优待证办理", "城乡居民医保参保", "残疾人两项补贴申请", "临时救助申请",
            "生育登记", "退役军人优待证申领", "就业登记", "灵活就业社保缴费"]
BODY_SENTENCES = [
    "会议强调，要坚持以人民为中心的发展思想，切实把各项工作抓实抓细抓到位。",
    "各社区、各部门要提高政治站位，压实工作责任，确保各项任务按时保质完成。",
    "下一步，西区将持续深化“百千万工程”，推动城乡区域协调发展。",
    "活动现场气氛热烈，居民群众纷纷表示受益匪浅。",
    "此次检查共排查各类隐患{n}处，已当场整改{k}处，其余隐患已责令限期整改。",
    "西区各社区党委积极发动党员志愿者参与，共服务群众{n}人次。",
    "请各相关单位认真贯彻执行，执行中遇到的问题请及时向西区办事处反映。",
    "如有疑问，请于工作日上午8:30—12:00、下午14:30—17:30致电咨询。",
    "本公示期为5个工作日，如对公示内容有异议，可在公示期内以书面形式向西区办事处反映。",
]


def fill_title(rng: random.Random, template: str, year: int) -> str:
    """A title from a template, its slots filled from the vocabulary."""
    return template.format(
        topic=rng.choice(TOPICS), c=rng.choice(COMMUNITIES), act=rng.choice(ACTS), chk=rng.choice(CHECKS),
        event=rng.choice(EVENTS), year=year, road=rng.choice(ROADS), n=rng.randint(2, 12), job=rng.choice(JOBS),
        m=rng.randint(1, 12), svc=rng.choice(SERVICES),
    )


def body_paragraphs(rng: random.Random, k: int = 3) -> str:
    """``k`` paragraphs of boilerplate article text."""
    out = []
    for _ in range(k):
        n = rng.randint(12, 260)
        out.append(rng.choice(BODY_SENTENCES).format(n=n, k=max(1, n // 2)))
    return "".join(f"<p>{html.escape(s)}</p>\n" for s in out)


# (key, base count per scale unit, newest offset in days before as_of, span in days)
BULK = [
    ("gzdt", 60, 1, 365), ("sqdt", 17, 3, 400), ("djdt", 15, 5, 700), ("tzgg", 30, 9, 720),
    ("gsgg", 8, 200, 900), ("qtwj", 6, 0, 0), ("zcwj", 12, 30, 900), ("rsxx", 10, 120, 1000), ("tjxx", 10, 60, 900),
    ("ztzl", 12, 20, 800), ("bmfw", 10, 45, 900),
]
TEMPLATES = {
    "gzdt": DYN_TEMPLATES, "sqdt": DYN_TEMPLATES,
    "djdt": ["西区{c}社区党委开展主题党日活动", "西区召开党建工作领导小组会议", "西区机关党委开展{act}志愿服务",
             "西区举办基层党组织书记培训班"],
    "tzgg": NOTICE_TEMPLATES, "gsgg": PUBLIC_TEMPLATES, "qtwj": OTHER_FILE_TEMPLATES, "zcwj": FILE_TEMPLATES,
    "rsxx": HR_TEMPLATES,
    "tjxx": STAT_TEMPLATES, "ztzl": TOPIC_TEMPLATES, "bmfw": SERVICE_TEMPLATES,
}


# ---------------------------------------------------------------------------------------------------------
# the articles of one simulated month


class SiteContent:
    """Every article of the portal, and the snapshot date that decides which of them are published."""

    def __init__(self, as_of: dt.date, month_variant: int, scale: int) -> None:
        if month_variant > 0:
            raise ValueError("month_variant must be 0 or negative")
        if scale < 1:
            raise ValueError("scale must be >= 1")
        self.as_of = as_of
        self.variant = month_variant
        self.scale = scale
        self.snapshot = shift_months(as_of, month_variant)
        self.year = as_of.year if as_of >= dt.date(as_of.year, 3, 1) else as_of.year - 1
        self.rng = random.Random(f"sitewatch-demo/{scale}")
        self.items: dict[str, list[Item]] = {c.key: [] for c in COLUMNS}
        self.next_id = 5001
        self.next_xid = 8000
        self.special: dict[str, str] = {}       # names of paths picked at build time
        self.gk: dict[int, list[Item]] = {c: [] for c in GK_LEAF_CATEGORY}
        self.hanweb: list[Item] = []

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _xid(self) -> int:
        """Ids of the platform sections (kept apart so the ids of the original items never move)."""
        self.next_xid += 1
        return self.next_xid

    def generate(self) -> None:
        """Make every item; the order of the steps keeps each item's id and random draws stable."""
        y = self.year
        for key, base, newest, span in BULK:
            n = base * self.scale
            rng = random.Random(f"sitewatch-demo/{key}/{self.scale}")
            for i in range(n):
                if COL[key].layout == "undated":
                    url_date = shown = None
                    title_year = y
                else:
                    off = newest + (round(i * span / (n - 1)) if n > 1 else 0)
                    url_date = self.as_of - dt.timedelta(days=off)
                    shown = url_date
                    if i > 0 and rng.random() < 0.4:
                        shown = url_date - dt.timedelta(days=rng.randint(1, 45))
                    title_year = url_date.year
                title = fill_title(rng, rng.choice(TEMPLATES[key]), title_year)
                it = Item(key, title, url_date, shown, self._id(), body=body_paragraphs(rng, rng.randint(2, 5)))
                if key == "zcwj":
                    it.docno = f"西区办〔{title_year}〕{n - i + 10}号"
                self.items[key].append(it)
        # 通知公告: an old pinned row on top (made here: it takes the next id and draws from the shared generator)
        pinned = Item("tzgg", "关于进一步规范西区办事处政务服务窗口办事时间的通告", self.as_of - dt.timedelta(days=500),
                      self.as_of - dt.timedelta(days=500), self._id(), pinned=True, body=body_paragraphs(self.rng))
        self.items["tzgg"].insert(0, pinned)
        self._policy_items(y)
        self._finance_items(y)
        self._report_items(y)
        self._plan_items(y)
        for lst in self.items.values():
            for it in lst:
                col = COL[it.col]
                it.encoding = it.encoding or col.encoding
                it.charset_in = it.charset_in or col.charset_in
        # a 规范性文件 whose interpretation is published only in the gkmlpt catalogue
        d4 = dt.date(y, 6, 15)
        reg4 = Item("zcwj", "中山市西区办事处关于印发《西区社区养老服务设施建设管理办法》的通知", d4, d4, self._xid(),
                    docno=f"西区办规〔{y}〕4号",
                    body="<p>各社区：</p><p>现将《西区社区养老服务设施建设管理办法》印发给你们，请认真贯彻执行。</p>",
                    encoding="utf-8", charset_in="header")
        self.items["zcwj"].append(reg4)
        self.special["reg4"] = reg4.path
        self._gk_items(y)
        self._hanweb_items()

    def _policy_items(self, y: int) -> None:
        d1, d3, d0 = dt.date(y, 3, 16), dt.date(y, 9, 8), dt.date(y - 1, 6, 10)
        reg1 = Item("zcwj", "中山市西区办事处关于印发《西区社区微改造项目管理办法》的通知", d1, d1, self._id(),
                    docno=f"西区办规〔{y}〕1号",
                    body="<p>各社区、办事处各部门：</p><p>现将《西区社区微改造项目管理办法》印发给你们，请认真贯彻执行。</p>")
        reg3 = Item("zcwj", "中山市西区办事处关于印发《西区老旧小区加装电梯财政补助实施细则》的通知", d3, d3,
                    self._id(), docno=f"西区办规〔{y}〕3号",
                    body="<p>各社区：</p><p>现将《西区老旧小区加装电梯财政补助实施细则》印发给你们，请遵照执行。</p>")
        reg0 = Item("zcwj", "中山市西区办事处关于印发《西区困难群众临时救助实施办法》的通知", d0, d0, self._id(),
                    docno=f"西区办规〔{y - 1}〕2号",
                    body="<p>各社区：</p><p>现将《西区困难群众临时救助实施办法》印发给你们，请遵照执行。</p>")
        jd1 = Item("zcjd", "《西区社区微改造项目管理办法》政策解读", d1, d1, self._id(),
                   body="<p>一、起草背景</p><p>为规范社区微改造项目管理……</p><p>二、主要内容</p><p>《办法》共五章二十条……</p>")
        jd0 = Item("zcjd", "图解：《西区困难群众临时救助实施办法》", d0, d0, self._id(),
                   body="<p>一图读懂临时救助的对象、标准和申请流程。</p>")
        jd_old = Item("zcjd", "《西区“十四五”时期城市更新工作方案》解读", dt.date(y - 2, 11, 3), dt.date(y - 2, 11, 3),
                      self._id(), body="<p>方案明确了城市更新的总体目标和重点任务。</p>")
        reg1.extra_links.append(("相关解读：《西区社区微改造项目管理办法》政策解读", jd1.path))
        jd1.extra_links.append((f"原文：西区办规〔{y}〕1号", reg1.path))
        reg0.extra_links.append(("相关解读：图解《西区困难群众临时救助实施办法》", jd0.path))
        jd0.extra_links.append((f"原文：西区办规〔{y - 1}〕2号", reg0.path))
        self.items["zcwj"] += [reg1, reg3, reg0]
        self.items["zcjd"] += [jd1, jd0, jd_old]
        self.special.update(reg1=reg1.path, reg3=reg3.path, reg0=reg0.path, jd1=jd1.path, jd0=jd0.path)

    def _finance_items(self, y: int) -> None:
        d = dt.date(y, 3, 18)
        budget = Item("czyjs", f"西区办事处{y}年部门预算及“三公”经费预算", d, d, self._id(), body="<p>详见附件。</p>")
        budget.attachments = [
            (f"西区办事处{y}年部门预算.pdf", f"./P0{y}0318377102419820.pdf"),
            (f"{y}年一般公共预算“三公”经费支出表.XLS", f"./P0{y}0318377102418843.XLS"),
            (f"{y}年部门预算绩效目标表.pdf", f"./P0{y}0318377102416591.pdf"),
            (f"{y}年预算说明.pdf", f"{PREFIX}附件/{y}年预算说明.pdf"),
            (f"{y}年政府采购预算表.pdf", f"{PREFIX}附件/不存在.pdf"),
        ]
        d_prev = dt.date(y - 1, 3, 20)
        budget_prev = Item("czyjs", f"西区办事处{y - 1}年部门预算", d_prev, d_prev, self._id(),
                           body="<p>详见附件。</p>")
        budget_prev.attachments = [
            (f"{y - 1}年部门预算.pdf", f"./P0{y - 1}0320512230017733.pdf"),
            (f"{y - 1}年“三公”经费预算情况说明.pdf", f"./P0{y - 1}0320512230019210.pdf"),
        ]
        d_fin = dt.date(y, 8, 20)
        final = Item("czyjs", f"西区办事处{y - 1}年部门决算", d_fin, d_fin, self._id(), body="<p>详见附件。</p>")
        final.attachments = [
            (f"{y - 1}年部门决算.pdf", f"./P0{y}0820330415561127.pdf"),
            (f"{y - 1}年部门决算公开表.rar", f"./P0{y}0820330415563390.rar"),
        ]
        d_fin2 = dt.date(y - 1, 8, 25)
        final_prev = Item("czyjs", f"西区办事处{y - 2}年部门决算及“三公”经费决算", d_fin2, d_fin2, self._id(),
                          body="<p>详见附件。</p>")
        final_prev.attachments = [(f"{y - 2}年部门决算公开表.XLS", f"./P0{y - 1}0825104488201354.XLS")]
        d_b2 = dt.date(y - 2, 3, 22)
        budget_p2 = Item("czyjs", f"西区办事处{y - 2}年部门预算及“三公”经费预算", d_b2, d_b2, self._id(),
                         body="<p>详见附件。</p>")
        budget_p2.attachments = [(f"{y - 2}年部门预算.pdf", f"./P0{y - 2}0322771200345512.pdf")]
        self.items["czyjs"] += [final, budget, final_prev, budget_prev, budget_p2]
        self.special.update(budget=budget.path, budget_prev=budget_prev.path, final=final.path,
                            final_prev=final_prev.path)

    def _report_items(self, y: int) -> None:
        for k in range(1, 6):
            yr = y - k
            pub = dt.date(yr + 1, 2, 20) if k == 1 else dt.date(yr + 1, 1, 20 + k)
            it = Item("ndbg", f"中山市西区办事处{yr}年政府信息公开工作年度报告", pub, pub, self._id(),
                      body="<p>一、总体情况</p><p>二、主动公开政府信息情况</p><p>三、收到和处理政府信息公开申请情况</p>"
                           "<p>四、政府信息公开行政复议、行政诉讼情况</p><p>五、存在的主要问题及改进情况</p><p>六、其他需要报告的事项</p>")
            self.items["ndbg"].append(it)
            self.special[f"ndbg{yr}"] = it.path
        for k in range(3):
            yr = y - k
            pub = dt.date(yr, 1, 15)
            it = Item("xxgkzn", f"中山市西区办事处政府信息公开指南（{yr}年）", pub, pub, self._id(),
                      body="<p>为了更好地提供政府信息公开服务，根据《中华人民共和国政府信息公开条例》，编制本指南。</p>"
                           "<p>一、主动公开</p><p>二、依申请公开</p><p>三、监督和救济</p>")
            self.items["xxgkzn"].append(it)
            self.special[f"guide{yr}"] = it.path

    def _plan_items(self, y: int) -> None:
        for k, title in enumerate(PLAN_TITLES):
            d = self.as_of - dt.timedelta(days=626 + 90 * k)
            self.items["ghjh"].append(Item("ghjh", title.format(year=d.year), d, d, self._id(),
                                           body=body_paragraphs(self.rng)))

    def visible(self, it: Item) -> bool:
        return it.url_date is None or it.url_date <= self.snapshot

    def col_items(self, key: str) -> list[Item]:
        lst = [it for it in self.items[key] if self.visible(it)]
        pinned = [it for it in lst if it.pinned]
        rest = [it for it in lst if not it.pinned]
        rest.sort(key=lambda it: (it.url_date or dt.date.min, it.doc_id), reverse=True)
        return pinned + rest

    # -- gkmlpt 政府信息公开目录 ----------------------------------------------------------------------------
    def _gk_items(self, y: int) -> None:
        """Items of the gkmlpt leaf categories, relative to as_of (shown when dated on or before the snapshot)."""
        def post(cat: int, title: str, d: dt.date, body: str, docno: str | None = None) -> Item:
            pid = 3100000 + self._xid()
            it = Item(f"gk{cat}", title, d, d, pid, docno=docno, body=body,
                      path_override=f"{GKMLPT}content/3/{pid // 1000}/post_{pid}.html")
            self.gk[cat].append(it)
            return it

        rng = random.Random("sitewatch-demo/gkmlpt/2000")
        for i in range(21):                          # 政务动态: every 10 days, so fresh in every month
            d = self.as_of - dt.timedelta(days=2 + 10 * i)
            post(2000, fill_title(rng, rng.choice(DYN_TEMPLATES), d.year), d, body_paragraphs(rng, rng.randint(2, 4)))
        rng = random.Random("sitewatch-demo/gkmlpt/3001")
        for i in range(6):                           # 镇街文件: every 28 days, 文号 from the API
            d = self.as_of - dt.timedelta(days=4 + 28 * i)
            post(3001, fill_title(rng, rng.choice(OTHER_FILE_TEMPLATES), d.year), d, body_paragraphs(rng, 2),
                 docno=f"西区办函〔{d.year}〕{40 - i * 3}号")
        # 文件解读: the interpretation of 西区办规〔y〕4号 exists ONLY here (the document is in the static 政策文件)
        d4 = dt.date(y, 6, 16)
        jd4 = post(3002, "《西区社区养老服务设施建设管理办法》政策解读", d4,
                   "<p>一、制定背景</p><p>为规范社区养老服务设施的规划、建设和管理……</p>"
                   "<p>二、主要内容</p><p>《办法》共六章二十四条……</p>")
        jd4.extra_links.append((f"原文：西区办规〔{y}〕4号", self.special["reg4"]))
        post(3002, "《西区社区微改造项目管理办法》问答", dt.date(y, 3, 20),
             "<p>问：哪些项目可以申请社区微改造？</p><p>答：……</p>")
        self.special["gk_jd4"] = jd4.path
        b = post(4001, f"西区办事处{y}年部门预算", dt.date(y, 3, 18), "<p>详见附件。</p>")
        b.attachments = [(f"西区办事处{y}年部门预算.pdf", f"./P0{y}0318600112340001.pdf")]
        f = post(4001, f"西区办事处{y - 1}年部门决算", dt.date(y, 8, 20), "<p>详见附件。</p>")
        f.attachments = [(f"{y - 1}年部门决算.pdf", f"./P0{y}0820600112340002.pdf")]
        post(4001, f"西区办事处{y - 2}年部门决算", dt.date(y - 1, 8, 25), "<p>详见附件。</p>")

    def gk_visible(self, cat: int) -> list[Item]:
        lst = [it for it in self.gk[cat] if self.visible(it)]
        return sorted(lst, key=lambda it: (it.url_date, it.doc_id), reverse=True)

    # -- Hanweb JCMS datastore column -------------------------------------------------------------------------
    def _hanweb_items(self) -> None:
        """Items of the Hanweb datastore column (政务要闻), at Hanweb's art_<unit>_<id> URLs."""
        rng = random.Random("sitewatch-demo/hanweb")
        for i in range(14):                          # every 9 days: fresh in every month
            d = self.as_of - dt.timedelta(days=6 + 9 * i)
            iid = self._xid()
            self.hanweb.append(Item("zwyw", fill_title(rng, rng.choice(DYN_TEMPLATES), d.year), d, d, iid,
                                    body=body_paragraphs(rng, rng.randint(2, 4)),
                                    path_override=f"{PREFIX}art/{d.year}/{d.month}/{d.day}/art_{HANWEB_UNIT}_{iid}.html"))

    def hanweb_visible(self) -> list[Item]:
        return [it for it in self.hanweb if self.visible(it)]
