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


def test_tensorflows_retracing_notice_is_held_back_and_its_other_warnings_kept(caplog):
    show(1)
    tensorflow = logging.getLogger("tensorflow")
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        tensorflow.warning("5 out of the last 5 calls to <function one_step_on_data at 0x1> "
                           "triggered tf.function retracing. Tracing is expensive")
        tensorflow.warning("something else")
    assert [record.getMessage() for record in caplog.records] == ["something else"]
