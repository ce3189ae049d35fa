"""Every task weight and think time of every user, in one place (DESIGN §5.4).

Task weights are relative within a user; user-class weights (how many of each) live in the
profiles (``scenarios/profiles.toml``). Think times are log-normal, like people's pauses:
most short, a long tail (the median and the 95th percentile, in seconds, scaled by the
profile's ``think_scale``). This module imports nothing: it is plain data.
"""

from __future__ import annotations

# Bettor: scan the list, filter it, open a market, bet, glance at the wallet and history
BETTOR_TASKS = {"browse": 2, "filter": 2, "view": 4, "bet": 4, "wallet": 1, "history": 1}
BETTOR_THINK = (0.45, 1.6)  # in-play bettors click fast; soak/peak profiles scale this up
#: during a goal rush (peak profile) bettors think this many times faster: a burst of bets
GOAL_RUSH = 4.0

# Agent: the dashboard refreshed every few seconds, now and then a page through the downline
AGENT_TASKS = {"dashboard": 6, "downline": 1}
AGENT_THINK = (3.0, 6.0)
DOWNLINE_PAGES = 3  # pages read per look at the downline (50 members each)

# Trader/admin (a fixed few): settle markets, move users in the agent hierarchy
TRADER_TASKS = {"settle": 2, "move": 1}
TRADER_THINK = (4.0, 9.0)

# OddsWatcher: one WebSocket, subscribed to a slice of the markets for the whole session
WATCHER_MARKETS = 100  # markets per watcher: 200 watchers cover 20,000 markets
WATCHER_RECV_TIMEOUT_S = 15.0  # the SUT heartbeats every 5 s; silence longer than this is a fault
WATCHER_RECONNECT_PAUSE_S = 1.0
