"""SIP telephony adapter on baresip-python (see docs/telephony.md)."""
