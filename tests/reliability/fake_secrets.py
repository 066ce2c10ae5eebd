"""The fake secrets the whole reliability suite runs with; case 9 looks for them afterwards."""

SECRETS = {
    "slack_bot_token": "xoxb-RELIABILITY-5ecr3t-bot",
    "slack_app_token": "xapp-1-RELIABILITY-5ecr3t-app",
    "slack_signing_secret": "RELIABILITY-5ecr3t-signing",
    "llm_api_key": "sk-RELIABILITY-5ecr3t-llm",
    "discord_token": "RELIABILITY.5ecr3t.discord",
    "milvus_token": "root:RELIABILITY-5ecr3t-milvus",
}
