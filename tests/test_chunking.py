"""Markdown is split where a reader sees sections, and nowhere else."""

import itertools

from core.ingest.chunking import chunk_markdown, chunk_plain_text, split_long_text


def headings_of(text: str) -> list[tuple[str, ...]]:
    return [c.headings for c in chunk_markdown(text, "fallback", 1500, 200)]


def test_headings_indented_up_to_three_spaces_start_sections() -> None:
    text = "# Guide\n\nIntro.\n\n  ## Boot issues\n\nBoot text.\n\n   ### Pod pending\n\nPending.\n"
    assert headings_of(text) == [
        ("Guide",),
        ("Guide", "Boot issues"),
        ("Guide", "Boot issues", "Pod pending"),
    ]


def test_four_space_indent_is_code_not_a_heading() -> None:
    text = "# Guide\n\nIntro.\n\n    ## not a heading\n"
    chunks = chunk_markdown(text, "fallback", 1500, 200)
    assert [c.headings for c in chunks] == [("Guide",)]
    assert "## not a heading" in chunks[0].text


def test_hash_lines_inside_code_fences_are_not_headings() -> None:
    text = (
        "# Recovery\n\n## Steps\n\nRun:\n\n  ```\n  kubectl scale sts etcd --replicas=1\n"
        "  # delete the pvc for etcd-1\n  ```\n\n~~~bash\n# also a comment\n~~~\n\nDone.\n"
    )
    chunks = chunk_markdown(text, "fallback", 1500, 200)
    assert [c.headings for c in chunks] == [("Recovery", "Steps")]
    assert "# delete the pvc for etcd-1" in chunks[0].text
    assert "# also a comment" in chunks[0].text
    assert chunks[0].text.endswith("Done.")


def test_front_matter_is_stripped_and_its_title_kept() -> None:
    text = "---\nid: faq.md\ntitle: Product FAQ\nsummary: x\n---\n\n## Cost\n\nIt is free.\n"
    [chunk] = chunk_markdown(text, "fallback", 1500, 200)
    assert chunk.title == "Product FAQ"
    assert chunk.heading == "Cost"
    assert "summary" not in chunk.text and "id:" not in chunk.text
    assert chunk.indexed_text().startswith("Product FAQ > Cost")


def test_title_falls_back_to_first_h1_then_file_name() -> None:
    assert chunk_markdown("# Install\n\nSteps.\n", "install", 1500, 200)[0].title == "Install"
    assert chunk_markdown("Just text.\n", "notes", 1500, 200)[0].title == "notes"


def test_levels_five_and_six_stay_inside_their_section() -> None:
    text = "#### Four\n\nA.\n\n##### Five\n\nB.\n"
    chunks = chunk_markdown(text, "t", 1500, 200)
    assert [c.headings for c in chunks] == [("Four",)]
    assert "##### Five" in chunks[0].text


def test_closing_hashes_and_extra_spaces_are_dropped_from_headings() -> None:
    assert headings_of("## Why  `flush()`   matters ##\n\nBecause.\n") == [
        ("Why `flush()` matters",)
    ]


def test_long_sections_are_capped_with_overlap() -> None:
    sentences = [f"Sentence number {i} talks about segment compaction." for i in range(80)]
    text = "## Long\n\n" + " ".join(sentences)
    chunks = chunk_markdown(text, "t", 500, 100)
    assert len(chunks) > 4
    assert all(len(c.text) <= 500 for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    for before, after in itertools.pairwise(chunks):
        assert after.text[:40] in before.text  # each piece starts inside the previous one
    for sentence in sentences:
        assert any(sentence in c.text for c in chunks)


def test_plain_text_is_split_at_paragraphs() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 60 for i in range(10))
    chunks = chunk_plain_text(text, "notes", 800, 100)
    assert all(len(c.text) <= 800 for c in chunks)
    assert chunks[0].text.startswith("Paragraph 0.")
    assert all(c.title == "notes" and c.headings == () for c in chunks)


def test_a_word_longer_than_the_cap_is_cut_rather_than_lost() -> None:
    pieces = split_long_text("x" * 2500, 1000, 100)
    assert all(len(p) <= 1000 for p in pieces)
    assert sum(len(p) for p in pieces) >= 2500


def test_link_targets_are_left_out_of_the_indexed_text_but_kept_in_the_chunk() -> None:
    text = (
        "## Help\n\nAsk in [Slack](https://join.slack.com/t/x/shared_invite/abc) or ![logo](l.png)."
    )
    [chunk] = chunk_markdown(text, "t", 1500, 200)
    assert "https://join.slack.com" in chunk.text
    assert "slack.com" not in chunk.indexed_text() and "l.png" not in chunk.indexed_text()
    assert "[Slack]" in chunk.indexed_text()


def test_small_sibling_sections_are_merged_with_their_headings_kept() -> None:
    """A reference page of one-line sections becomes passages in context: each merged
    section's heading stays in the text and among the sections the chunk covers."""
    text = (
        "# CLI\n\n## delete user\n\nRemoves a user.\n\n## list users\n\nLists every user.\n\n"
        "## create alias\n\n" + "Creates an alias for a collection. " * 20 + "\n\n"
        "## drop alias\n\n" + "Drops an alias; the collection stays. " * 20 + "\n"
    )
    chunks = chunk_markdown(text, "t", 1500, 200, min_chars=200)
    first = chunks[0]
    assert first.headings == ("CLI",)
    assert "## delete user" in first.text and "## list users" in first.text
    assert {"delete user", "list users"} <= set(first.sections)
    assert [c.heading for c in chunks[1:]] == ["drop alias"]
    assert all("delete user" not in c.sections for c in chunks[1:])


def test_question_sections_are_never_merged() -> None:
    """An FAQ entry is a unit of its own: short answers under question headings stay apart."""
    text = "# FAQ\n\n## Is it free?\n\nYes.\n\n## Does it run on ARM?\n\nYes, on ARM64.\n"
    chunks = chunk_markdown(text, "t", 1500, 200, min_chars=200)
    assert [c.heading for c in chunks] == ["Is it free?", "Does it run on ARM?"]


def test_without_a_minimum_every_section_is_its_own_chunk() -> None:
    text = "# CLI\n\n## delete user\n\nRemoves a user.\n\n## list users\n\nLists every user.\n"
    assert [c.heading for c in chunk_markdown(text, "t", 1500, 200)] == [
        "delete user",
        "list users",
    ]


def test_pieces_of_a_long_section_cover_the_same_sections() -> None:
    text = "# Guide\n\n## Install\n\n" + "Run the installer and wait. " * 80 + "\n"
    chunks = chunk_markdown(text, "t", 500, 100, min_chars=200)
    assert len(chunks) > 1
    assert {c.sections for c in chunks} == {("Guide", "Install")}


def test_sections_under_a_question_heading_are_not_merged_either() -> None:
    text = "# FAQ\n\n## Why is it slow?\n\n### Disk\n\nCheck IOPS.\n\n### Memory\n\nAdd RAM.\n"
    chunks = chunk_markdown(text, "t", 1500, 200, min_chars=200)
    assert [c.heading for c in chunks] == ["Disk", "Memory"]


def test_top_level_sections_of_a_page_without_its_own_heading_merge() -> None:
    """A page whose title is front matter has `##` sections at the top: they merge too."""
    text = "---\ntitle: Ports\n---\n## Proxy\n\n19530.\n\n## Metrics\n\n9091.\n"
    [chunk] = chunk_markdown(text, "t", 1500, 200, min_chars=200)
    assert {"Proxy", "Metrics"} <= set(chunk.sections) and chunk.title == "Ports"
