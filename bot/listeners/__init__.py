"""Listener registration: each command family registers itself on the app it is given."""

from slack_bolt import App

from bot.listeners import actions, alerts, commands, home, lifecycle, questions, subscriptions
from bot.services import Services


def register(app: App, services: Services) -> None:
    commands.register(app, services)
    subscriptions.register(app, services)
    actions.register(app, services)
    alerts.register(app, services)
    home.register(app, services)
    questions.register(app, services)
    lifecycle.register(app, services)
