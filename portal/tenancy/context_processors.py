from accounts.branding import text_colour_on


def tenant(request):
    current = getattr(request, "tenant", None)
    return {
        "tenant": current,
        "brand_text": text_colour_on(current.primary_color) if current else "#ffffff",
    }
