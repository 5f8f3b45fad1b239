"""tfopt's one voice: the `tfopt` logger, shown on the console by verbosity."""

import logging

from tfopt.log import logger, show


def test_verbose_0_shows_only_errors_and_1_shows_progress(capsys):
    show(0)
    logger.info("a trial")
    logger.warning("a warning")
    logger.error("an error")
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == "[tfopt] an error\n"
    show(1)
    logger.info("a trial")
    logger.warning("a warning")
    printed = capsys.readouterr()
    assert printed.out == "[tfopt] a trial\n" and printed.err == "[tfopt] a warning\n"
    assert len(logger.handlers) == 1  # shown once, however often asked


def test_a_programs_own_handler_and_level_are_kept(capsys):
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    show(1)
    logger.info("a trial")
    logger.warning("a warning")
    assert lines == ["a warning"] and logger.handlers == [handler]
    assert capsys.readouterr().out == ""
