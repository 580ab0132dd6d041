"""Alerts over the marts: rules (rules.py), one evaluation for live and replay (evaluate.py), the
backtest marts (backtest.py), the warehouse state and outbox (store.py), delivery (delivery.py).
"""
