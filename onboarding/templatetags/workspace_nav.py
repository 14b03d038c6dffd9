from django import template

from onboarding.workspace.nav import onboarding_tabs

register = template.Library()


@register.inclusion_tag("workspace/_tabs.html")
def onboarding_nav(onboarding, current: str):
    return {"tabs": onboarding_tabs(onboarding.pk, current), "onboarding": onboarding}
