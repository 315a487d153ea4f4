"""The Azure DevOps connector (in progress): configuration and revision conversion."""
