"""CodeDeploy's pre-traffic hook: the new versions answer a request 2xx before traffic shifts to them."""

from functools import partial

from investment_system.entrypoints import deployment_hook_handler
from investment_system.services.accounts.deploy_check import deploy_check_access_token
from investment_system.services.system.deployment_checks import check_new_versions

handler = deployment_hook_handler(partial(check_new_versions, deploy_check_access_token))
