"""References to Party and State documents: the grammar shared by the indexer and the query side.

Recognizes "Quy định số 58-QĐ/TW, ngày 8-2-2022 của Bộ Chính trị “…”", "Chỉ thị 39", "QĐ 58",
"Nghị định 15/2020/NĐ-CP", "Nghị quyết Trung ương 4 (khóa XII)", "Luật An ninh mạng", "Điều 5"
in corpus text (`find_references`) and in accentless, lower-case queries
(`find_query_references`: "quy dinh 58 qd tw", "ct 39", "58-QĐ/TW").

All patterns run on a *folded* copy of the text (lower-case, no diacritics, đ→d) that has one
character per original character cluster, so "Quy định", "quy dinh" and "QUY ĐỊNH" look the same
to the patterns while offsets still index the caller's text, NFC or NFD. Where case carries
meaning (abbreviations like "QĐ", the first word of a law name) the original text is consulted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date as _Date

from tracuu.core.folding import Folded as _Folded
from tracuu.core.folding import fold_text as _fold

def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", _fold(text)).strip("-")


def _norm_number(number: str) -> str:
    # "05" and "5" name the same document; keys and identity use the unpadded form.
    return re.sub(r"\d+", lambda m: str(int(m.group())), number)


# ---------------------------------------------------------------- tables

# canonical type, folded full word, code used in symbols ("58-QĐ/TW") and as an abbreviation
_TYPES = [
    ("Quy định", "quy dinh", "qd"), ("Quyết định", "quyet dinh", "qd"),  # both QĐ; bare QĐ: Quy định
    ("Chỉ thị", "chi thi", "ct"), ("Kết luận", "ket luan", "kl"), ("Hướng dẫn", "huong dan", "hd"),
    ("Công văn", "cong van", "cv"), ("Nghị quyết", "nghi quyet", "nq"), ("Kế hoạch", "ke hoach", "kh"),
    ("Quy chế", "quy che", "qc"), ("Thông báo", "thong bao", "tb"), ("Nghị định", "nghi dinh", "nd"),
    ("Thông tư", "thong tu", "tt"), ("Pháp lệnh", "phap lenh", "pl"),
    ("Bộ luật", "bo luat", None), ("Luật", "luat", None),
]
_TYPE_BY_WORD = {word: name for name, word, _ in _TYPES}
_CODE_OF_TYPE = {name: code for name, _, code in _TYPES if code}
_TYPES_BY_CODE: dict[str, list[str]] = {}
for _name, _, _code in _TYPES:
    if _code:
        _TYPES_BY_CODE.setdefault(_code, []).append(_name)
# Codes that may stand alone as a type word ("QĐ 58", "ct 39"); TB/PL are too ambiguous.
_ABBREVIATIONS = "qd|ct|kl|hd|cv|nq|kh|qc|nd|tt"
_CODE_DISPLAY = {"qd": "QĐ", "nd": "NĐ"}
# In State symbols ("123/QĐ-TTg") QĐ is always Quyết định.
_STATE_CODE_TYPE = {"qd": "Quyết định"}
# Issuer codes allowed after a space instead of "/" ("19-hd btctw" in a seed title).
_PARTY_ISSUER_CODES = "btctw|ubkttw|btgtw|vptw|tw|tu|hu|qu|du"

# canonical issuer, folded pattern; longer names first where they share a start
_ISSUERS = [
    ("Bộ Chính trị", "bo chinh tri"), ("Ban Bí thư", r"ban bi thu(?:\s*\(?\s*trung uong(?: dang)?\s*\)?)?"),
    ("Ban Chấp hành Trung ương", "ban chap hanh trung uong(?: dang)?"),
    ("Ban Tổ chức Trung ương", "ban to chuc trung uong"),
    ("Ban Tuyên giáo Trung ương", "ban tuyen giao trung uong"),
    ("Ủy ban Kiểm tra Trung ương", "uy ban kiem tra trung uong"),
    ("Ban Thường vụ Tỉnh ủy", "ban thuong vu tinh uy"), ("Ban Thường vụ Thành ủy", "ban thuong vu thanh uy"),
    ("Ban Tổ chức Tỉnh ủy", "ban to chuc tinh uy"), ("Tỉnh ủy", "tinh uy"), ("Thành ủy", "thanh uy"),
    ("Thủ tướng Chính phủ", "thu tuong(?: chinh phu)?"), ("Chính phủ", "chinh phu"),
    ("Quốc hội", "quoc hoi"), ("Bộ Nội vụ", "bo noi vu"), ("Bộ Công an", "bo cong an"),
]
_ISSUERS = [(name, p.replace(" ", r"\s+")) for name, p in _ISSUERS]  # any run of spaces
_ISSUER_ALT = "|".join(f"(?:{p})" for _, p in _ISSUERS)
_ISSUER_RX = re.compile(rf"(?<!\w)(?:{_ISSUER_ALT})(?!\w)")


def _issuer_name(folded: str) -> str | None:
    return next((name for name, p in _ISSUERS if re.fullmatch(p, folded)), None)


# ---------------------------------------------------------------- patterns (on folded text)

# "kỷ luật" is discipline, "quy luật" a natural law, "pháp luật" the law in general
_NOT_A_LAW = r"(?<!ky\s)(?<!quy\s)(?<!phap\s)(?<!dieu\s)"
_WORDS = "|".join((_NOT_A_LAW if w == "luat" else "") + w.replace(" ", r"\s+")
                  for w in sorted(_TYPE_BY_WORD, key=len, reverse=True))
_NUMBERED = re.compile(rf"""
    (?<![\w/.-])
    (?: (?P<word>{_WORDS}) \s+ (?P<so1>so\s*:?\s*)?
      | (?P<abbr>{_ABBREVIATIONS}) \s* (?P<so2>so\s*)? )?
    (?P<num>\d+) (?: /(?P<year>(?:19|20)\d\d) )?
    (?: [-\s] \s* (?P<pcode>{"|".join(_TYPES_BY_CODE)}) \s*
            (?: / \s* (?P<piss>[a-z]{{1,10}}) | \s (?P<piss2>{_PARTY_ISSUER_CODES}) )
      | / (?P<scode>{"|".join(_TYPES_BY_CODE)}) - (?P<siss>[a-z0-9]{{1,10}})
      | / (?P<qh>qh\d{{1,2}}) )?
    (?! [\w%] | [.,/]\d )
""", re.X)
# "Nghị quyết Trung ương 4 [khóa XII]": a conference resolution, named rather than numbered
_NQ_TW = re.compile(r"(?<!\w)nghi\s+quyet\s+(?:hoi\s+nghi\s+)?(?:lan\s+thu\s+)?(?:trung\s+uong|tw)\s*"
                    r"(?P<n>\d+)(?:\s*[(\[,]?\s*khoa\s+(?P<term>[xvil]+)\s*[)\]]?)?(?!\w)")
_LAW = re.compile(rf"(?<!\w){_NOT_A_LAW}(?P<w>bo\s+luat|luat)\s+(?=[a-z])")
_LAW_WORD = re.compile(r"\s*([a-z]+)(?=[\s,.;:!?)\]”\"]|$)")
# Law names the word-by-word heuristic would cut short (they contain commas).
_KNOWN_LAWS = ("phong, chong tham nhung", "can bo, cong chuc", "phong, chong ma tuy",
               "phong, chong tac hai cua thuoc la", "khieu nai, to cao")
# Words that end a law name in prose. Compared with diacritics: folded, "về" and "vệ" (bảo vệ),
# "bị" and "bí" (bí mật), "tại" and "tài" (tài sản) would collide.
_LAW_STOP = set("và hoặc của về năm số đã sẽ được bị có là để nhằm trong theo tại với cho khi thì "
                "này do các những từ đến sau trước mà hiện mới ngày nêu ghi cũng vẫn đó".split())
_LAW_STOP2 = {"quy định", "hướng dẫn", "yêu cầu", "nghiêm cấm", "hiệu lực", "sửa đổi", "bổ sung",
              "ban hành", "thi hành", "áp dụng"}  # "Luật An ninh mạng quy định …"
# Queries have no diacritics, so only words that cannot be part of a law name stop there.
_LAW_STOP_QUERY = {"va", "hoac", "cua", "nam", "so", "theo", "dieu", "khoan", "la", "gi", "nao"}
_NOT_LAWS = {"su", "phap", "le", "choi"}  # "Luật sư" is a lawyer, "luật pháp" is law in general
_ARTICLE = re.compile(r"(?<!\w)dieu\s+(?P<n>\d+[a-z]?)(?![\w%]|[.,/]\d)")
_ARTICLE_LINK = re.compile(r"\s*,?\s*(?:(?:cua|trong|tai|thuoc)\s+)?")
# A bare "Kế hoạch 5 năm" is a five-year plan, not plan no. 5.
_MEASURE = re.compile(r"\s+(nam|thang|ngay|tuan|gio|phut|lan|nguoi|ty|trieu|nghin|diem|dieu)(?!\w)")

_DATE = (r"(?:(\d{1,2})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{4})"
         r"|(\d{1,2})\s+thang\s+(\d{1,2}),?\s+(?:nam\s+)?(\d{4}))")
_DATE_RX = re.compile(rf"(?:ngay\s+)?{_DATE}")
_SEP = r"\s*,?\s*"
_TAIL = (  # what may follow a reference, in any order, each at most once
    ("date", re.compile(rf"{_SEP}(?:ban\s+hanh\s+)?ngay\s+{_DATE}")),
    ("issuer", re.compile(rf"{_SEP}cua\s+({_ISSUER_ALT})(?!\w)")),
    ("term", re.compile(rf"{_SEP}[(\[]?\s*khoa\s+([xvil]+)\s*[)\]]?(?!\w)")),
    ("title", re.compile(rf"{_SEP}(?:ve\s+(?:viec\s+)?)?[\"“«]([^\"”»\n]{{3,300}})[\"”»]")),
)
_LIST_SEP = re.compile(r"\s*(?:,|va|,\s*va)\s*")
_CLAUSE = re.compile(r"[^,;.:!?()“”\"\n]*$")
_BEFORE_BAN_HANH = re.compile(r"(?:\s+\S+){0,8}?\s+ban\s+hanh\s*$")


def _iso(day: str, month: str, year: str) -> str | None:
    try:
        return _Date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def _date_of(m: re.Match) -> str | None:
    g = [x for x in m.groups() if x is not None and x not in "-/."]
    return _iso(*g[-3:]) if len(g) >= 3 else None


def parse_date(text: str) -> str | None:
    """First date in `text` as ISO ("ngày 8-2-2022", "28/02/2018", "23 tháng 3 năm 2010")."""
    m = _DATE_RX.search(_fold(text))
    return _date_of(m) if m else None


# ---------------------------------------------------------------- references


@dataclass
class Reference:
    type: str
    number: str | None  # "58", "15/2020"; None for named documents ("Luật An ninh mạng")
    symbol: str | None = None
    date: str | None = None
    issuer: str | None = None
    title: str | None = None
    name: str | None = None
    start: int = 0
    end: int = 0
    article: str | None = None  # "Điều 5 Quy định 58" → article "5" of Quy định 58
    term: str | None = None  # khóa (Party Congress term): "XII"
    type_inferred: bool = False  # type came from an abbreviation or symbol code, not a word

    @property
    def key(self) -> str:
        if self.type == "Điều":
            return f"dieu-{_slug(self.number or '')}"
        return _make_key(self.type, self.number, self.symbol, self.name)


def _make_key(type_: str, number: str | None, symbol: str | None, name: str | None) -> str:
    if number is None:
        return _slug(name or type_)
    return "-".join(filter(None, [_slug(type_), _slug(_norm_number(number)), _slug(symbol or "")]))


def _name_base(name: str | None) -> str:
    return _slug(re.sub(r"\s*\(kh[oó]a [^)]*\)", "", name or ""))


def _upper_code(s: str) -> str:
    return s if any(c.isupper() for c in s) else s.upper()  # keep "TTg" as written


def _numbered(f: _Folded, m: re.Match, query: bool) -> Reference | None:
    word, abbr, pcode, scode = m["word"], m["abbr"], m["pcode"], m["scode"]
    written = f.orig(*m.span("abbr")) if abbr else ""
    if abbr and not query and (not written.isupper() or ("Đ" in written and abbr not in ("qd", "nd"))):
        return None  # lower-case "ct"/"tt" in prose are not abbreviations, nor "HĐ" (hội đồng)
    if not (word or abbr or pcode or scode or m["qh"]):
        return None  # a number alone is not a reference
    if not (m["so1"] or m["so2"] or pcode or scode or m["qh"]) and (
            _is_measure(f.s, m.end()) or (word or "").endswith("luat")):
        return None  # "Kế hoạch 5 năm"; laws are cited by name or by full number, not "Luật 5"
    if word:
        type_ = _TYPE_BY_WORD[" ".join(word.split())]
    elif abbr:
        type_ = _TYPES_BY_CODE[abbr][0]
    elif scode:
        type_ = _STATE_CODE_TYPE.get(scode, _TYPES_BY_CODE[scode][0])
    else:
        type_ = "Luật" if m["qh"] else _TYPES_BY_CODE[pcode][0]
    symbol = None
    if pcode:
        iss = m.span("piss") if m["piss"] else m.span("piss2")
        symbol = f"{_CODE_DISPLAY.get(pcode, pcode.upper())}/{f.orig(*iss).upper()}"
    elif scode:
        symbol = f"{_CODE_DISPLAY.get(scode, scode.upper())}-{_upper_code(f.orig(*m.span('siss')))}"
    elif m["qh"]:
        symbol = f.orig(*m.span("qh")).upper()
    number = m["num"] + (f"/{m['year']}" if m["year"] else "")
    return Reference(type_, number, symbol, start=m.start(), end=m.end(), type_inferred=not word)


def _is_measure(s: str, pos: int) -> bool:
    """Is the number at `pos` a count ("5 năm", "2 điều") rather than a document number?"""
    m = _MEASURE.match(s, pos)
    if not m:
        return False
    after = s[m.end():]
    if m.group(1) == "ngay":
        return not _DATE_RX.match(s, m.start(1))  # "Chỉ thị 39 ngày 18/8/2014"
    if m.group(1) == "nam":  # "Quy định 58 năm 2022", but "Kế hoạch 5 năm 2021-2025"
        return not re.match(r"\s+\d{4}(?!\s*[-–]\s*\d)", after)
    return m.group(1) != "dieu" or not re.match(r"\s+\d", after)  # "Quy định 58 Điều 5"


def _named_law(f: _Folded, m: re.Match, query: bool) -> Reference | None:
    pos = end = m.end()
    known = next((k for k in _KNOWN_LAWS if re.match(re.escape(k) + r"(?!\w)", f.s[pos:])), None)
    if known:
        end = pos + len(known)
    else:
        words = []  # (folded, original, end) for the words after "Luật"
        while len(words) < 9 and (wm := _LAW_WORD.match(f.s, end)):
            words.append((wm.group(1), unicodedata.normalize("NFC", f.orig(*wm.span(1))), wm.end()))
            end = wm.end()
        n = _law_name_length(words, query)
        if not n:
            return None
        end = words[n - 1][2]
    rest = f.orig(pos, end)
    type_ = "Luật" if m["w"] == "luat" else "Bộ luật"
    return Reference(type_, None, name=f"{type_} {rest[0].upper()}{rest[1:]}", start=m.start(), end=end)


def _law_name_length(words: list[tuple[str, str, int]], query: bool) -> int:
    """How many of the words after "Luật" are the law's name (0: not a law)."""
    if not words or words[0][0] in _NOT_LAWS or not (query or words[0][1][0].isupper()):
        return 0  # in prose a law name starts with a capital: "Luật An ninh mạng"
    for i in range(1, min(len(words), 8)):
        folded, word, _ = words[i]
        before = [w for w, _, _ in words[i - 2:i]]
        if before == ["viet", "nam"]:
            return i  # "Luật Cảnh sát biển Việt Nam" ends with the country
        if before[-1:] == ["viet"] and folded == "nam":
            continue
        if query:
            stop = folded in _LAW_STOP_QUERY
        else:
            pair = f"{word} {words[i + 1][1]}".lower() if i + 1 < len(words) else ""
            stop = word.lower() in _LAW_STOP or pair in _LAW_STOP2 or (
                word[0].isupper() and folded != "viet")  # a new proper noun, except Việt Nam
        if stop:
            return i
    return min(len(words), 8)


def _nq_tw(m: re.Match) -> Reference:
    term = m["term"].upper() if m["term"] else None
    name = f"Nghị quyết Trung ương {int(m['n'])}" + (f" (khóa {term})" if term else "")
    return Reference("Nghị quyết", None, name=name, term=term, start=m.start(), end=m.end())


def _tail(f: _Folded, ref: Reference, pos: int) -> int:
    """Read the date/issuer/term/title following a reference; returns where they end."""
    todo = [what for what, _ in _TAIL if getattr(ref, what) is None]
    while True:
        for what, rx in _TAIL:
            m = rx.match(f.s, pos) if what in todo else None
            if m and (value := _tail_value(f, what, m)):
                setattr(ref, what, value)
                todo.remove(what)
                pos = m.end()
                break
        else:
            return pos


def _tail_value(f: _Folded, what: str, m: re.Match) -> str | None:
    if what == "date":
        return _date_of(m)
    if what == "issuer":
        return _issuer_name(m[1])
    return m[1].upper() if what == "term" else f.orig(*m.span(1)).strip()


def _issuer_before(f: _Folded, start: int) -> str | None:
    """ "Bộ Chính trị ban hành Chỉ thị số 39": the issuer named in the same clause before it."""
    clause = _CLAUSE.search(f.s, max(0, start - 200), start)
    last = None
    for last in _ISSUER_RX.finditer(f.s, clause.start() if clause else start, start):
        pass
    if last and _BEFORE_BAN_HANH.match(f.s, last.end(), start):
        return _issuer_name(last.group())
    return None


def _find(text: str, query: bool) -> list[Reference]:
    f = _Folded(text)
    found = [_nq_tw(m) for m in _NQ_TW.finditer(f.s)]
    found += [r for m in _LAW.finditer(f.s) if (r := _named_law(f, m, query))]
    found += [r for m in _NUMBERED.finditer(f.s) if (r := _numbered(f, m, query))]
    found += [Reference("Điều", m["n"], start=m.start(), end=m.end())
              for m in _ARTICLE.finditer(f.s) if not _is_measure(f.s, m.end())]
    refs: list[Reference] = []  # earliest first, then longest; no overlaps
    for r in sorted(found, key=lambda r: (r.start, -r.end)):
        if not refs or r.start >= refs[-1].end:
            refs.append(r)

    # "Điều 5 (của) Quy định 58" is article 5 of that document, not a reference of its own;
    # in queries the article may also follow ("quy dinh 58 dieu 5").
    merged: list[Reference] = []
    for r in refs:
        prev = merged[-1] if merged else None
        if prev and prev.type == "Điều" and r.type != "Điều" \
                and _ARTICLE_LINK.fullmatch(f.s, prev.end, r.start):
            r.article, r.start = prev.number, prev.start
            merged[-1] = r
        elif query and prev and r.type == "Điều" and prev.type != "Điều" and not prev.article \
                and re.fullmatch(r"\s*,?\s*", f.s[prev.end:r.start]):
            prev.article, prev.end = r.number, r.end
        else:
            merged.append(r)

    docs = [r for r in merged if r.type != "Điều"]
    bare_tail = [_tail(f, r, r.end) == r.end for r in docs]
    # "Quy định số 293-QĐ/TW và Quy định số 294-QĐ/TW, ngày 23 tháng 3 năm 2010 của Ban Bí thư":
    # a date/issuer/term after a list of same-type references belongs to every member that has
    # none of its own. Different types in a row are not treated as a list (too often distinct).
    for i in range(len(docs) - 2, -1, -1):
        a, b = docs[i], docs[i + 1]
        if bare_tail[i] and a.type == b.type and _LIST_SEP.fullmatch(f.s, a.end, b.start):
            a.date, a.issuer, a.term = a.date or b.date, a.issuer or b.issuer, a.term or b.term
    for r in docs:
        r.issuer = r.issuer or _issuer_before(f, r.start)
    for r in merged:  # folded positions → positions in the caller's text
        r.start, r.end = f.pos(r.start), f.pos(r.end)
    return merged


def find_references(text: str) -> list[Reference]:
    """All document (and bare article) references in corpus text, in text order."""
    return _find(text, query=False)


def find_query_references(query: str) -> list[Reference]:
    """References in a user query: accentless, lower-case and abbreviated forms accepted."""
    return _find(query, query=True)
