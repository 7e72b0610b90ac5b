"""Config: presets, overrides, and the error a bad value raises."""

from __future__ import annotations

import copy
import inspect
import math
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import rumor


def test_presets_match_memberlist() -> None:
    """lan, local and wan carry memberlist's defaults (DESIGN.md §4)."""
    lan, local, wan = rumor.Config.lan(), rumor.Config.local(), rumor.Config.wan()
    assert (lan.probe_interval, lan.probe_timeout) == (1.0, 0.5)
    assert (local.probe_interval, local.probe_timeout) == (1.0, 0.2)
    assert (wan.probe_interval, wan.probe_timeout) == (5.0, 3.0)
    assert (lan.gossip_interval, lan.gossip_fanout) == (0.2, 3)
    assert (local.gossip_interval, local.gossip_fanout) == (0.1, 3)
    assert (wan.gossip_interval, wan.gossip_fanout) == (0.5, 4)
    assert (lan.suspicion_mult, local.suspicion_mult, wan.suspicion_mult) == (4, 3, 6)
    assert (lan.retransmit_mult, local.retransmit_mult, wan.retransmit_mult) == (4, 2, 4)
    assert (lan.indirect_checks, local.indirect_checks, wan.indirect_checks) == (3, 1, 3)
    assert (lan.push_pull_interval, local.push_pull_interval) == (30.0, 15.0)


def test_plain_config_starts_from_lan() -> None:
    """Config(**overrides) is the lan preset with those fields changed."""
    config = rumor.Config(gossip_fanout=5)
    lan = rumor.Config.lan()
    assert config.gossip_fanout == 5
    assert config.probe_interval == lan.probe_interval
    assert config.suspicion_mult == lan.suspicion_mult


def test_preset_overrides_are_applied() -> None:
    """Keyword overrides of a preset change only the named fields."""
    config = rumor.Config.local(probe_interval=0.2, probe_timeout=0.1, gossip_interval=0.05)
    assert math.isclose(config.probe_interval, 0.2)
    assert math.isclose(config.probe_timeout, 0.1)
    assert math.isclose(config.gossip_interval, 0.05)
    assert config.suspicion_mult == rumor.Config.local().suspicion_mult


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: rumor.Config(gossip_fanout=0), "gossip_fanout"),
        (lambda: rumor.Config.lan(probe_timeout=5.0), "probe_timeout"),
        (lambda: rumor.Config(probe_interval=-1), "probe_interval"),
        (lambda: rumor.Config(probe_interval=math.nan), "probe_interval"),
        (lambda: rumor.Config(gossip_interval=math.inf), "gossip_interval"),
        (lambda: rumor.Config.wan(suspicion_mult=0), "suspicion_mult"),
        (lambda: rumor.Config.local(max_packet_size=10), "max_packet_size"),
        (lambda: rumor.Config(max_meta_size=100_000), "max_meta_size"),
        (lambda: rumor.Config(probe_interval=1.0, probe_timeout=1.0), "probe_timeout"),
        (lambda: rumor.Config(reconnect_interval=-5), "reconnect_interval"),
        # Positive but shorter than probe_interval: a rejoin at every blip.
        (lambda: rumor.Config(rejoin_interval=0.5), "rejoin_interval"),
        (lambda: rumor.Config(failure_detector="raft"), "failure_detector"),
        (lambda: rumor.Config(node_timeout=0.0), "node_timeout"),
    ],
    ids=[
        "fanout-zero",
        "timeout-over-interval",
        "negative-interval",
        "nan-interval",
        "infinite-gossip",
        "suspicion-zero",
        "tiny-packet",
        "huge-meta",
        "timeout-equal-to-interval",
        "negative-reconnect",
        "rejoin-below-probe-interval",
        "unknown-detector",
        "zero-node-timeout",
    ],
)
def test_bad_value_raises_config_error_naming_the_field(
    build: Callable[[], rumor.Config], field: str
) -> None:
    """An out-of-range value raises ConfigError, a ValueError whose message names the field."""
    with pytest.raises(rumor.ConfigError) as info:
        build()
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, rumor.RumorError)
    assert field in str(info.value)


def test_unknown_keyword_is_a_type_error() -> None:
    """A misspelt setting is an ArgumentTypeError (a TypeError) naming it,
    not silently ignored."""
    with pytest.raises(rumor.ArgumentTypeError, match="'probe_intervall'"):
        rumor.Config(probe_intervall=1.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        rumor.Config.local(fanout=3)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"probe_interval": "1s"}, "probe_interval must be a number, got str"),
        ({"probe_interval": True}, "probe_interval must be a number, got bool"),
        ({"gossip_fanout": 2.5}, "gossip_fanout must be an int, got float"),
        ({"lifeguard": 1}, "lifeguard must be a bool, got int"),
        ({"closed_port_evidence": 1}, "closed_port_evidence must be a bool, got int"),
        ({"keys": b"x" * 32}, "keys must be a list of 32-byte bytes, got bytes"),
    ],
)
def test_a_setting_of_the_wrong_type_is_an_argument_type_error(
    settings: dict[str, object], message: str
) -> None:
    """A setting of the wrong type raises ArgumentTypeError naming the field."""
    with pytest.raises(rumor.ArgumentTypeError) as info:
        rumor.Config(**settings)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_settings_are_keyword_only() -> None:
    """Positional settings are refused: a bare number would be ambiguous."""
    untyped: Any = rumor.Config  # the type checker refuses the call itself
    with pytest.raises(TypeError):
        untyped(1.0)


def test_quorum_detector_is_chosen_by_name() -> None:
    """SWIM is the default; Redis Cluster's quorum detector takes a node_timeout."""
    assert rumor.Config().failure_detector == "swim"
    assert rumor.Config().node_timeout == 15.0, "Redis's default cluster-node-timeout"
    config = rumor.Config.lan(failure_detector="quorum", node_timeout=1.0)
    assert (config.failure_detector, config.node_timeout) == ("quorum", 1.0)
    assert "failure_detector='quorum', node_timeout=1.0," in repr(config)


KEY = bytes(range(1, 33))

SETTINGS = sorted(
    name
    for name, attr in vars(rumor.Config).items()
    if inspect.isgetsetdescriptor(attr) and name != "encrypted"
)
"""Every setting: a readable attribute of Config and a keyword it takes
(``encrypted`` is derived from ``keys``)."""


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"anti_entropy": rumor.AntiEntropy(interval=5), "push_pull_interval": 99},
            "anti_entropy=AntiEntropy(interval=...) and push_pull_interval=... both set "
            "push_pull_interval; give it once",
        ),
        (
            {"sync_peers": "random", "anti_entropy": rumor.AntiEntropy(peers="ring")},
            "anti_entropy=AntiEntropy(peers=...) and sync_peers=... both set sync_peers; "
            "give it once",
        ),
    ],
    ids=["interval", "peers"],
)
def test_two_spellings_of_one_setting_are_refused(
    settings: dict[str, object], message: str
) -> None:
    """A setting given both through AntiEntropy and by its own keyword is a
    ConfigError naming both, whatever their order, not one silently winning."""
    with pytest.raises(rumor.ConfigError) as info:
        rumor.Config(**settings)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_anti_entropy_sets_only_what_it_is_given() -> None:
    """AntiEntropy's unset interval and peers keep the preset's; set ones apply."""
    local = rumor.Config.local(anti_entropy=rumor.AntiEntropy(mode="pull"))
    assert (local.anti_entropy, local.push_pull_interval, local.sync_peers) == (
        "pull",
        15.0,
        "random",
    )
    ring = rumor.Config(anti_entropy=rumor.AntiEntropy("push", interval=5, peers="ring"))
    assert (ring.anti_entropy, ring.push_pull_interval, ring.sync_peers) == ("push", 5.0, "ring")
    same = rumor.Config(anti_entropy="push", push_pull_interval=5, sync_peers="ring")
    assert ring == same


def test_a_bad_anti_entropy_value_names_the_parameter_written() -> None:
    """AntiEntropy(peers="star") is reported as peers, where it was written."""
    with pytest.raises(rumor.ConfigError) as info:
        rumor.AntiEntropy(peers="star")  # type: ignore[arg-type]
    assert str(info.value) == 'peers must be "random" or "ring", got \'star\''
    with pytest.raises(rumor.ConfigError, match=r"^mode must be"):
        rumor.AntiEntropy(mode="gossip")  # type: ignore[arg-type]
    with pytest.raises(rumor.ConfigError, match=r"^anti_entropy\.interval must be"):
        rumor.Config(anti_entropy=rumor.AntiEntropy(interval=-1))


def test_repr_shows_every_setting_and_counts_keys() -> None:
    """repr(Config) names every keyword Config takes, with its value, and
    shows how many keys there are, never the key bytes."""
    config = rumor.Config(keys=[KEY, bytes(range(2, 34))], label="prod", reap_timeout=3600)
    text = repr(config)
    shown = [part.split("=")[0] for part in text[len("Config(") : -1].split(", ")]
    assert sorted(shown) == SETTINGS
    assert len(SETTINGS) == 30
    assert "reap_timeout=3600.0" in text
    assert "push_pull_scale=True" in text
    assert "keys=<2 keys>" in text
    assert KEY.hex() not in text and repr(KEY) not in text
    assert "keys=<1 key>," in repr(rumor.Config(keys=[KEY]))
    assert "keys=[]," in repr(rumor.Config())


def test_keys_are_readable_like_every_setting() -> None:
    """config.keys gives the keys back, the primary first (empty: none)."""
    assert rumor.Config(keys=[KEY]).keys == [KEY]
    assert rumor.Config().keys == []
    assert rumor.Config(keys=[KEY]).encrypted


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_config_pickles_and_copies_to_an_equal_one(protocol: int) -> None:
    """copy, deepcopy and pickle (every protocol) give an equal Config."""
    config = rumor.Config.wan(
        keys=[KEY],
        label="x",
        gossip_fanout=7,
        probe_interval=4.5,
        stop_policy="counter(3)",
        sync_peers="ring",
        lifeguard=False,
    )
    assert pickle.loads(pickle.dumps(config, protocol=protocol)) == config
    assert copy.copy(config) == config
    assert copy.deepcopy(config) == config
    assert copy.deepcopy(config) != rumor.Config.wan()


NUMERIC_FIELDS = [name for name in SETTINGS if type(getattr(rumor.Config(), name)) in (int, float)]


@pytest.mark.parametrize("field", NUMERIC_FIELDS)
def test_booleans_are_refused_for_every_numeric_setting(field: str) -> None:
    """True is not a number of seconds nor a count, for any field."""
    with pytest.raises(rumor.ArgumentTypeError) as info:
        rumor.Config(**{field: True})  # type: ignore[arg-type]
    assert str(info.value).startswith(f"{field} must be a")
    assert str(info.value).endswith("got bool")


def test_huge_numbers_are_refused_in_short_words() -> None:
    """A duration of 1e308 s is refused naming the range, the number shown
    as 1e308; an int too big for any count names the field, not its type."""
    with pytest.raises(rumor.ConfigError) as info:
        rumor.Config(probe_interval=1e308)
    assert str(info.value) == (
        "probe_interval must be a number of seconds between 0 and 1e9, got 1e308"
    )
    with pytest.raises(rumor.ConfigError) as too_big:
        rumor.Config(gossip_fanout=2**70)
    assert str(too_big.value) == f"gossip_fanout must be an int from 0 to 2**64 - 1, got {2**70}"


@pytest.mark.parametrize("seed", [-1, 2**64])
def test_a_seed_out_of_range_names_seed_and_the_range(seed: int) -> None:
    """Node(seed=-1) is an ArgumentError naming seed and 0..2**64 - 1."""
    with pytest.raises(rumor.ArgumentError) as info:
        rumor.Node(bind="127.0.0.1:0", seed=seed)
    assert str(info.value) == f"seed must be between 0 and 2**64 - 1, got {seed}"


def test_closed_port_evidence_is_on_in_lan_and_local_and_off_in_wan() -> None:
    """Firewalls on a WAN may answer for hosts that are fine: no evidence there."""
    assert rumor.Config.lan().closed_port_evidence
    assert rumor.Config.local().closed_port_evidence
    assert not rumor.Config.wan().closed_port_evidence
    assert rumor.Config.wan(closed_port_evidence=True).closed_port_evidence
