// agora-agent: runs tasks for a remote master. See agora/agent/agent_actor.hpp.
int main() { return 0; }
