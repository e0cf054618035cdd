"""The hub's event bus: who gets which event, in what order, as handlers come and go.

The bus keeps a per-type route (typed handlers, then catch-all ones) that must follow every
subscribe, unsubscribe and stream change; `wants()` lets a publisher skip building an event
nobody would receive.
"""

from __future__ import annotations

from hub.events import DeviceAvailability, EventBus, NamedEvent, RuleFired, StateChanged


def _named(name: str) -> NamedEvent:
    return NamedEvent(ts=1.0, name=name)


def test_typed_handlers_run_before_catch_all_ones_in_subscription_order() -> None:
    bus = EventBus()
    seen: list[str] = []
    bus.subscribe(lambda e: seen.append(f"all:{e.type}"))
    bus.subscribe(lambda e: seen.append("named-1"), [NamedEvent])
    bus.subscribe(lambda e: seen.append("named-2"), [NamedEvent])
    bus.subscribe(lambda e: seen.append("state"), [StateChanged])
    bus.publish(_named("x"))
    bus.publish(StateChanged(ts=1.0, device="d"))
    assert seen == ["named-1", "named-2", "all:named_event", "state", "all:state_changed"]


def test_a_handler_added_after_a_publish_receives_the_next_event() -> None:
    bus = EventBus()
    first: list[str] = []
    later: list[str] = []
    catch_all: list[str] = []
    bus.subscribe(lambda e: first.append(e.name), [NamedEvent])
    bus.publish(_named("a"))  # the route for NamedEvent is now built
    bus.subscribe(lambda e: later.append(e.name), [NamedEvent])
    bus.publish(_named("b"))
    bus.subscribe(lambda e: catch_all.append(e.name))
    bus.publish(_named("c"))
    assert (first, later, catch_all) == (["a", "b", "c"], ["b", "c"], ["c"])


def test_unsubscribed_handlers_get_nothing_more() -> None:
    bus = EventBus()
    kept: list[str] = []
    gone: list[str] = []
    bus.subscribe(lambda e: kept.append(e.name), [NamedEvent])
    unsubscribe = bus.subscribe(lambda e: gone.append(e.name), [NamedEvent, StateChanged])
    bus.publish(_named("a"))
    unsubscribe()
    bus.publish(_named("b"))
    bus.publish(StateChanged(ts=1.0, device="d"))
    assert (kept, gone) == (["a", "b"], ["a"])


def test_a_failing_handler_does_not_stop_the_others() -> None:
    bus = EventBus()
    seen: list[str] = []

    def broken(_e: object) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken, [NamedEvent])
    bus.subscribe(lambda e: seen.append(e.name), [NamedEvent])
    bus.subscribe(lambda e: seen.append("all"))
    bus.publish(_named("a"))
    assert seen == ["a", "all"]


async def test_wants_follows_handlers_and_streams() -> None:
    bus = EventBus()
    assert not bus.wants(RuleFired)
    unsubscribe = bus.subscribe(lambda e: None, [RuleFired])
    assert bus.wants(RuleFired)
    assert not bus.wants(DeviceAvailability)
    unsubscribe()
    assert not bus.wants(RuleFired)
    unsubscribe = bus.subscribe(lambda e: None)  # catch-all: wants everything
    assert bus.wants(RuleFired) and bus.wants(DeviceAvailability)
    unsubscribe()
    assert not bus.wants(RuleFired)
    stream = bus.stream(10, lambda e: False)  # a stream decides for itself: it counts
    assert bus.wants(RuleFired)
    stream.close()
    assert not bus.wants(RuleFired)


async def test_streams_receive_what_they_accept_until_closed() -> None:
    bus = EventBus()
    stream = bus.stream(10, lambda e: isinstance(e, NamedEvent))
    bus.publish(StateChanged(ts=1.0, device="d"))
    bus.publish(_named("a"))
    assert (await stream.get()).name == "a"
    stream.close()
    bus.publish(_named("b"))
    assert stream._queue.empty()
