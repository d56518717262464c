# Helpers of the channels question's rules (workflow/rules/questions_channels.smk): its jobs'
# outputs and its targets for `rule all`.
from csft.config import channels_arms, channels_encoder_arm
from csft.data.synthetic import KINDS as SYNTHETIC_KINDS


def channels_outputs():
    """Every metrics file of the stage: arm x dataset x seed at its horizon; none while off."""
    block = config["questions"]["channels"]
    if not block["enabled"]:
        return []
    return expand(
        f"{RESULTS}/questions/channels/{{arm}}/{{dataset}}/H{block['horizon']}/seed{{seed}}/metrics.json",
        arm=list(channels_arms(config)),
        dataset=block["datasets"],
        seed=block.get("seeds", config["seeds"]),
    )


def channels_targets():
    """Every output of this question's stage; none while questions.channels is off."""
    if not channels_outputs():
        return []
    tables = [f"{RESULTS}/tables/channels.{ext}" for ext in ("csv", "md")]
    return tables + expand(f"{RESULTS}/figures/channels.{{ext}}", ext=FIGURE_FORMATS)
