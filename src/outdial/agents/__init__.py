"""Real agents: logins to skill queues with the SIP URI of the agent's phone, ready / not ready, wrap-up
done, logout (issue 13). The live state of a logged-in agent is the telephony port's (agentpool.py)."""
