"""The SIP telephony adapter (issue 13): outdial places real calls over a SIP trunk with baresip-python.

`SipTelephony` implements the telephony port; `SipSettings` holds the trunk settings (OUTDIAL_SIP_*).
docs/telephony.md describes both.
"""

from outdial.engine.telephony.sip.settings import SipSettings

__all__ = ["SipSettings", "SipTelephony"]


def __getattr__(name: str) -> object:
    # the adapter imports baresip (a native extension): only when asked for, so settings load without it
    if name == "SipTelephony":
        from outdial.engine.telephony.sip.adapter import SipTelephony

        return SipTelephony
    raise AttributeError(name)
