"""The classifiers of the classification track, one class each (csft.models.registry.CLASSIFIERS
names them); what each can do is declared on its class (csft.classifiers.base.Classifier)."""
