"""Faust agents: thin loops that read the events topic and call the pure rules in domain/."""

from streams.app import Pipeline


def register_all(pipeline: Pipeline) -> None:
    from agents import stock

    stock.register(pipeline)
