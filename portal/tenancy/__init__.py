"""Tenant scoping: which tenant a piece of work belongs to, and the managers that enforce it."""
