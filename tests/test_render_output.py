"""Writing pictures and reports: refused over existing files and the input, atomic, with ordinary permissions."""

import os
import stat

import pytest

from convsolve.errors import UsageError
from convsolve.render import check_output, write_output


def test_existing_file_is_replaced_only_with_overwrite(tmp_path):
    path = tmp_path / "a.svg"
    write_output(path, b"first")
    with pytest.raises(UsageError, match="exists; choose another output path or pass --force"):
        write_output(path, b"second")
    write_output(path, b"second", overwrite=True)
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.svg"]  # no temporary file left behind


def test_written_file_has_the_umask_permissions_not_the_temporary_files(tmp_path):
    previous = os.umask(0o022)
    try:
        write_output(tmp_path / "a.png", b"x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a.png").stat().st_mode) == 0o644


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    with pytest.raises(UsageError, match="is a directory, not a regular file"):
        write_output(target, b"x", overwrite=True)  # a folder is never replaced by a file, with or without --force
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
    with pytest.raises(UsageError, match="cannot write .*No such file or directory"):
        write_output(tmp_path / "missing" / "a.png", b"x")


def test_check_output_refuses_the_input_then_unknown_formats(tmp_path):
    config = tmp_path / "net.yaml"
    config.write_text("name: x\n")
    with pytest.raises(UsageError, match="refusing to overwrite the input"):
        check_output(config, overwrite=True, formats=("png",), source=config)
    with pytest.raises(UsageError, match=r"use one of \.png, \.svg"):
        check_output(tmp_path / "plot.gif", formats=("png", "svg"))
    assert check_output(tmp_path / "plot.SVG", formats=("png", "svg")) == "svg"
