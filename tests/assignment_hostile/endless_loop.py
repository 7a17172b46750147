"""An endless loop that swallows every interruption it can."""
while True:
    try:
        while True:
            pass
    except BaseException:  # noqa: BLE001, S110 - hostile on purpose
        pass
