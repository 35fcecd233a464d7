"""Hand-written questions about the seed articles: the passage holding the answer is in the top 3."""

import pytest


# (question, text that must appear in one of the top-3 passages)
QUESTIONS = [
    ("Tỉnh Bình Thuận có bao nhiêu dân?", "gần 1,3 triệu dân"),
    ("Bình Thuận có bao nhiêu tổ chức cơ sở đảng?", "695 tổ chức cơ sở đảng"),
    ("Ai là Trưởng Đoàn Kiểm tra số 7?", "Trưởng Đoàn Kiểm tra số 7"),
    ("Quy định 58-QĐ/TW ban hành ngày nào?", "ngày 8-2-2022"),
    ("Đảng bộ Khối các cơ quan và doanh nghiệp tỉnh có tổng số bao nhiêu đảng viên?", "4.857 đảng viên"),
    ("Hà Nội ban hành Kế hoạch số 139 khi nào?", "Kế hoạch số 139 ngày 30/10/2014"),
    ("Năm 2018 có bao nhiêu tài liệu bị lộ, lọt bí mật nhà nước?", "11 tài liệu bị lộ, lọt"),
    ("Bao nhiêu đảng viên đã bị thi hành kỷ luật?", "thi hành kỷ luật 693 đảng viên"),
    ("Trong 5 năm tỉnh cho phép bao nhiêu cán bộ, đảng viên ra nước ngoài?", "hơn 200 trường hợp"),
    ("Ai là Cục trưởng Cục Bảo vệ chính trị nội bộ?", "Nguyễn Kim Minh, Cục trưởng Cục Bảo vệ chính trị nội bộ"),
    ("Năm 2022 Tiểu ban Bảo vệ chính trị nội bộ thành lập mấy đoàn kiểm tra?", "thành lập 5 đoàn kiểm tra"),
    ("Nghị quyết 35 của Bộ Chính trị nói về điều gì?", "bảo vệ nền tảng tư tưởng của Đảng"),
    ("Công an tỉnh kiểm tra việc bảo vệ bí mật nhà nước ở bao nhiêu cơ quan, đơn vị?", "56 cơ quan, đơn vị"),
    ("Quy chế số 05 là về việc gì?", "quản lý thống nhất các hoạt động đối ngoại"),
    ("Trọng tâm của công tác bảo vệ chính trị nội bộ trong giai đoạn hiện nay là gì?",
     "nắm và giải quyết vấn đề chính trị hiện nay"),
    ("Ai chủ trì buổi làm việc của Đoàn kiểm tra số 3 với Thành ủy Hà Nội?", "Đại tướng Lương Cường"),
]


@pytest.mark.parametrize("question,answer", QUESTIONS, ids=[q for q, _ in QUESTIONS])
def test_answer_is_in_top3(searcher, question, answer):
    hits = searcher.search(question, k=3).hits
    texts = [h.passage.text for h in hits]
    assert any(answer in t for t in texts), f"'{answer}' not in top 3: {[t[:80] for t in texts]}"


def test_top3_rate_is_high(searcher):
    """Not every question above may be perfect, but the set as a whole must be."""
    found = sum(any(a in h.passage.text for h in searcher.search(q, k=3).hits) for q, a in QUESTIONS)
    assert found / len(QUESTIONS) >= 0.9
